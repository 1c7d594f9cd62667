import type { BackendSpec } from './backend.js'
import { createBackend } from './backend-spec.js'
import { Balancer } from './balancer.js'
import { type Clock, systemClock } from './clock.js'
import { InvalidOptionError } from './errors.js'
import { metricsObserver } from './metrics-observer.js'
import { p2c } from './p2c.js'
import type { HealthCheck, MetricsSink, Observer, Plugin } from './plugin.js'
import type { Random } from './random.js'
import { type RetryOptions, resolveRetry } from './retry-policy.js'
import { fastRandom } from './sfc32.js'
import type { PickContext, Strategy } from './strategy.js'
import {
  checkFunction,
  checkKeys,
  checkObject,
  checkOneOf,
  checkString,
  describeValue,
  optionalNumber,
} from './validate.js'

/** Options of `createBalancer()`. */
export interface BalancerOptions {
  /** Name for metrics, logs and errors. @default 'default' */
  readonly name?: string
  /** Decay time of each backend's latency EWMA, in ms (Finagle, Linkerd: 10 s). @default 10_000 */
  readonly latencyDecayMs?: number
  /**
   * The latency a failed attempt counts as, at least, in the backend's EWMA, so that a backend that
   * fails fast does not look fast to latency-aware strategies. @default 1_000
   */
  readonly failurePenaltyMs?: number
  /**
   * Panic threshold in [0, 1]: when fewer than this share of the active backends is healthy, route
   * to all of them rather than overload the few (Envoy `healthy_panic_threshold`). 0 disables panic
   * mode: then only healthy backends are used, and none left means `NoBackendError`. The
   * `balancer:panic` event and the `fulcrum_balancer_panic` gauge report it. @default 0.5
   */
  readonly panicThreshold?: number
  /**
   * What panic mode does: `'all'` routes to every active backend, healthy or not (fail open);
   * `'fail'` fails every pick fast with `NoBackendError` (Envoy `fail_traffic_on_panic`). @default 'all'
   */
  readonly panicMode?: 'all' | 'fail'
  /**
   * Passive failure avoidance built into every balancer (NGINX `max_fails`): after this many
   * consecutive failures a backend takes no new picks until `failTimeoutMs` has passed since its
   * last failure; then it gets picks again, and one more failure starts a new window. If every
   * candidate failed recently, the pick fails open and uses one of them. 0 disables it; outlier
   * detection (`@fulcrum/health`) is the full-featured version and supersedes it: with an outlier
   * detector or a circuit breaker configured (a plugin with `passive: true`), the default is 0.
   * @default 3 (0 with outlier detection or a breaker)
   */
  readonly maxFails?: number
  /** How long a backend that reached `maxFails` is avoided, in ms (NGINX `fail_timeout`). @default 10_000 */
  readonly failTimeoutMs?: number
}

interface State<Ctx> {
  readonly options: BalancerOptions
  readonly backends: readonly BackendSpec[]
  readonly strategy: Strategy<Ctx> | undefined
  readonly health: readonly HealthCheck<Ctx>[]
  readonly plugins: readonly Plugin<Ctx>[]
  readonly observers: readonly (Observer | MetricsSink)[]
  readonly retry: RetryOptions | undefined
  readonly clock: Clock | undefined
  readonly random: Random | undefined
}

/**
 * An immutable balancer builder: every method returns a new builder, so a base configuration can
 * be forked; only `build()` validates, and it throws `InvalidOptionError`
 * (`FULCRUM_ERR_INVALID_OPTION`) naming the bad option path.
 */
export class BalancerBuilder<Ctx = PickContext> {
  readonly #s: State<Ctx>

  /** @internal Use `createBalancer()`. */
  constructor(state: State<Ctx>) {
    this.#s = Object.freeze(state)
  }

  #with(patch: Partial<State<Ctx>>): BalancerBuilder<Ctx> {
    return new BalancerBuilder<Ctx>({ ...this.#s, ...patch })
  }

  /** Sets the initial backends (replacing any given before): URLs, `host:port` strings or objects. */
  backends(list: readonly BackendSpec[]): BalancerBuilder<Ctx> {
    return this.#with({ backends: Array.isArray(list) ? [...list] : (list as never) })
  }

  /** Sets the strategy (replacing any given before). @default p2c() */
  strategy(strategy: Strategy<Ctx>): BalancerBuilder<Ctx> {
    return this.#with({ strategy })
  }

  /** Adds a health mechanism (active check or outlier detection). */
  health(check: HealthCheck<Ctx>): BalancerBuilder<Ctx> {
    return this.#with({ health: [...this.#s.health, check] })
  }

  /** Adds a plugin; the first plugin added is the outermost wrapper of `execute()` attempts. */
  use(plugin: Plugin<Ctx>): BalancerBuilder<Ctx> {
    return this.#with({ plugins: [...this.#s.plugins, plugin] })
  }

  /** Sets the retry policy of `execute()`. Without it, `execute()` makes a single attempt. */
  retry(options: RetryOptions = {}): BalancerBuilder<Ctx> {
    return this.#with({ retry: options })
  }

  /** Adds an observer or a metrics sink (fed by `metricsObserver()`). */
  observe(observer: Observer | MetricsSink): BalancerBuilder<Ctx> {
    return this.#with({ observers: [...this.#s.observers, observer] })
  }

  /** Injects the clock (a virtual clock in tests). @default systemClock */
  clock(clock: Clock): BalancerBuilder<Ctx> {
    return this.#with({ clock })
  }

  /** Injects the random source (a seeded one in tests). @default fastRandom(), sfc32 seeded from the OS */
  random(random: Random): BalancerBuilder<Ctx> {
    return this.#with({ random })
  }

  /** Merges balancer options (name, latency decay, panic threshold). */
  options(options: BalancerOptions): BalancerBuilder<Ctx> {
    return this.#with({ options: { ...this.#s.options, ...options } })
  }

  /** Validates everything and builds the balancer. */
  build(): Balancer<Ctx> {
    const s = this.#s
    const o = s.options
    checkObject('options', o)
    checkKeys('', o as Record<string, unknown>, [
      'name',
      'latencyDecayMs',
      'failurePenaltyMs',
      'panicThreshold',
      'panicMode',
      'maxFails',
      'failTimeoutMs',
    ])
    const name = o.name === undefined ? 'default' : checkString('name', o.name)
    const latencyDecayMs = optionalNumber('latencyDecayMs', o.latencyDecayMs, 10_000, {
      min: 0,
      minExclusive: true,
    })
    const failurePenaltyMs = optionalNumber('failurePenaltyMs', o.failurePenaltyMs, 1_000, { min: 0 })
    const stats = { latencyDecayMs, failurePenaltyMs }
    const panicThreshold = optionalNumber('panicThreshold', o.panicThreshold, 0.5, { min: 0, max: 1 })
    const panicMode =
      o.panicMode === undefined ? 'all' : checkOneOf('panicMode', o.panicMode, ['all', 'fail'])
    const passive = [...s.health, ...s.plugins].some(
      (p) => (p as { passive?: unknown } | null)?.passive === true,
    )
    const maxFails = optionalNumber('maxFails', o.maxFails, passive ? 0 : 3, {
      min: 0,
      max: 1_000_000,
      integer: true,
    })
    const failTimeoutMs = optionalNumber('failTimeoutMs', o.failTimeoutMs, 10_000, { min: 0 })
    if (!Array.isArray(s.backends))
      throw new InvalidOptionError('backends', `expected an array, got ${describeValue(s.backends)}`)
    const ids = new Set<string>()
    s.backends.forEach((spec, i) => {
      const b = createBackend(spec, `backends[${i}]`, stats)
      if (ids.has(b.id)) throw new InvalidOptionError(`backends[${i}]`, `duplicate backend id "${b.id}"`)
      ids.add(b.id)
    })
    const strategy = s.strategy === undefined ? (p2c() as Strategy<Ctx>) : s.strategy
    checkComponent('strategy', strategy, 'build')
    s.health.forEach((h, i) => {
      checkComponent(`health[${i}]`, h, 'start')
    })
    s.plugins.forEach((p, i) => {
      checkComponent(`use[${i}]`, p, undefined)
    })
    const observers = s.observers.map((o, i) => {
      if (typeof o === 'object' && o !== null && typeof (o as Observer).attach === 'function')
        return o as Observer
      const sink = o as MetricsSink
      checkObject(`observe[${i}]`, sink)
      for (const m of ['counter', 'gauge', 'histogram'] as const) checkFunction(`observe[${i}].${m}`, sink[m])
      return metricsObserver(sink)
    })
    const clock = s.clock ?? systemClock
    checkObject('clock', clock)
    for (const m of ['now', 'setTimer', 'clearTimer'] as const) checkFunction(`clock.${m}`, clock[m])
    const random = s.random ?? fastRandom()
    checkObject('random', random)
    checkFunction('random.next', random.next)
    return new Balancer<Ctx>({
      name,
      backends: s.backends,
      strategy,
      plugins: [...s.health, ...s.plugins],
      observers,
      retry: resolveRetry(s.retry),
      clock,
      random,
      stats,
      panicThreshold,
      failOnPanic: panicMode === 'fail',
      maxFails,
      failTimeoutMs,
    })
  }
}

function checkComponent(path: string, value: unknown, required: string | undefined): void {
  checkObject(path, value)
  const v = value as Record<string, unknown>
  checkString(`${path}.name`, v.name)
  if (required !== undefined) checkFunction(`${path}.${required}`, v[required])
  for (const hook of ['start', 'accept', 'onAcquire', 'onRelease', 'wrap', 'close', 'build'])
    if (v[hook] !== undefined) checkFunction(`${path}.${hook}`, v[hook])
}

/**
 * Starts a balancer configuration. Chain `.backends()`, `.strategy()`, `.health()`, `.use()`,
 * `.retry()`, `.observe()`, `.clock()`, `.random()`, then `.build()`.
 *
 * @example
 * ```ts
 * const lb = createBalancer({ name: 'api' })
 *   .backends(['http://127.0.0.1:9001', { url: 'http://127.0.0.1:9002', weight: 2 }])
 *   .retry({ retries: 2 })
 *   .build()
 * const lease = lb.pick()
 * lease.release({ ok: true })
 * ```
 */
export function createBalancer<Ctx = PickContext>(options: BalancerOptions = {}): BalancerBuilder<Ctx> {
  return new BalancerBuilder<Ctx>({
    options,
    backends: [],
    strategy: undefined,
    health: [],
    plugins: [],
    observers: [],
    retry: undefined,
    clock: undefined,
    random: undefined,
  })
}

/**
 * `circuitBreaker()`: a per-backend circuit breaker plugin (Finagle failure accrual, Linkerd
 * breakers, Hystrix states).
 */
import {
  type Backend,
  type BalancerControl,
  type BreakerState,
  InvalidOptionError,
  type Outcome,
  type Plugin,
  type Random,
  type Scheduler,
} from '@fulcrum/core'
import {
  type CircuitBreakerOptions,
  type ResolvedBreakerOptions,
  resolveBreakerOptions,
} from './breaker-options.js'
import { BackendBreaker, type BreakerHost } from './breaker-state.js'

/**
 * A backend's breaker as returned by {@link CircuitBreaker.stateOf}.
 *
 * @example
 * ```ts
 * const s: BreakerSnapshot | undefined = breaker.stateOf('api-1')
 * if (s?.state === 'open') console.log(`open until ${new Date(s.openUntil!)}`)
 * ```
 */
export interface BreakerSnapshot {
  readonly state: BreakerState
  /** Failures in a row while closed (kept while open, reset when the breaker closes). */
  readonly consecutiveFailures: number
  /** Openings since the breaker last closed (the backoff doubles with each). */
  readonly opens: number
  /** Clock time the open state ends, when open. */
  readonly openUntil: number | undefined
  /** Half-open probes acquired and not yet released. */
  readonly probesInFlight: number
}

/**
 * The plugin returned by {@link circuitBreaker}; add it with `.use()`.
 *
 * @example
 * ```ts
 * const breaker: CircuitBreaker = circuitBreaker()
 * const lb = createBalancer().backends(urls).use(breaker).build()
 * breaker.stateOf(lb.backends()[0]!.id) // { state: 'closed', … }
 * ```
 */
export interface CircuitBreaker extends Plugin<unknown> {
  readonly name: string
  /** Always true: the balancer's built-in `maxFails` is off by default next to a breaker. */
  readonly passive: true
  /** The breaker of backend `id`, or `undefined` when it has seen no traffic and no membership event. */
  stateOf(id: string): BreakerSnapshot | undefined
}

/**
 * A circuit breaker per backend, keyed by backend id (it survives weight changes and removal and
 * re-adding). Closed, it counts outcomes and opens after `consecutiveFailures` failures in a row or
 * when the failure ratio over `windowMs` reaches `failureRatio` with at least `minRequests`
 * requests. Open, it vetoes the backend for a jittered backoff that doubles per consecutive opening
 * (5 s, 10 s, 20 s … 300 s), then turns half-open and admits `halfOpenProbes` requests: all succeed
 * → closed (backoff reset), any fails → open again with the next backoff. When every backend is
 * open a pick fails with `NoBackendError` (proxies answer 503).
 *
 * Requests still in flight when it opens are stragglers: the breaker ignores that many later
 * releases, so that a slow request from before the opening is not taken for a probe. Releases are
 * counted, not matched, so when stragglers and probes overlap, a probe's outcome may be ignored and
 * a straggler's taken in its place; every release is still accounted for, so the breaker never
 * gets stuck.
 *
 * Emits `breaker:state` on every transition; backoffs run on the balancer's shared scheduler (one
 * entry per open breaker). Use one instance per balancer. It is a passive detector (`passive: true`):
 * with it the balancer's built-in `maxFails` avoidance is off unless `maxFails` is set explicitly.
 *
 * @example
 * ```ts
 * import { createBalancer } from '@fulcrum/core'
 * import { circuitBreaker } from '@fulcrum/breaker'
 * const breaker = circuitBreaker({ consecutiveFailures: 5, backoff: { minMs: 5_000, maxMs: 300_000 } })
 * const lb = createBalancer().backends(urls).use(breaker).build()
 * lb.on('breaker:state', ({ backend, from, to, reason }) => log.warn({ id: backend.id, from, to, reason }))
 * ```
 */
export function circuitBreaker(options?: CircuitBreakerOptions): CircuitBreaker {
  return new CircuitBreakerPlugin(resolveBreakerOptions(options))
}

class CircuitBreakerPlugin implements CircuitBreaker, BreakerHost {
  readonly name: string
  readonly passive = true
  readonly options: ResolvedBreakerOptions
  readonly #states = new Map<string, BackendBreaker>()
  #control: BalancerControl | undefined
  #unsubscribe: (() => void) | undefined
  #closed = false
  /** Breakers not closed: while 0, accept and onAcquire need no lookup. */
  #tripped = 0

  constructor(options: ResolvedBreakerOptions) {
    this.options = options
    this.name = options.name
  }

  get scheduler(): Scheduler {
    return this.#control!.scheduler
  }

  get random(): Random {
    return this.#control!.random
  }

  start(control: BalancerControl): void {
    if (this.#control !== undefined)
      throw new InvalidOptionError(
        'plugins',
        `${this.name} is already attached to balancer "${this.#control.name}"; create one per balancer`,
      )
    this.#control = control
    for (const b of control.backends()) this.#state(b)
    this.#unsubscribe = control.on('backend:add', (b) => {
      this.#state(b).backend = b
    })
  }

  /** The state of `b`'s id, created on first sight. */
  #state(b: Backend): BackendBreaker {
    let s = this.#states.get(b.id)
    if (s === undefined) {
      s = new BackendBreaker(b, this)
      this.#states.set(b.id, s)
    }
    return s
  }

  accept(backend: Backend): boolean {
    if (this.#tripped === 0) return true
    const s = this.#states.get(backend.id)
    return s === undefined || s.accepts()
  }

  onAcquire(backend: Backend): void {
    if (this.#tripped !== 0) this.#states.get(backend.id)?.acquired()
  }

  onRelease(backend: Backend, outcome: Outcome, latencyMs: number, now: number): void {
    if (this.#closed) return // requests finishing after close() must not schedule backoffs
    const s = this.#state(backend)
    s.released(this.options.filter.classify(outcome, latencyMs), backend.inflight, now)
  }

  transition(s: BackendBreaker, from: BreakerState, reason: string): void {
    if (from === 'closed') this.#tripped++
    else if (s.state === 'closed') this.#tripped--
    this.#control!.emit('breaker:state', { backend: s.backend, from, to: s.state, reason })
  }

  stateOf(id: string): BreakerSnapshot | undefined {
    const s = this.#states.get(id)
    if (s === undefined) return undefined
    return {
      state: s.state,
      consecutiveFailures: s.consecutiveFailures,
      opens: s.opens,
      openUntil: s.state === 'open' ? s.openUntil : undefined,
      probesInFlight: s.probesInFlight,
    }
  }

  close(): void {
    this.#closed = true
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    for (const s of this.#states.values()) s.cancel()
  }
}

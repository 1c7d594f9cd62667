import {
  type Backend,
  type BackendStateEvent,
  type BalancerControl,
  checkOptions,
  type HealthCheck,
  InvalidOptionError,
  optionalNumber,
  type ScheduledEntry,
  type ScheduledTask,
} from '@fulcrum/core'

/**
 * Options of {@link slowStart}.
 *
 * @example
 * ```ts
 * const options: SlowStartOptions = { windowMs: 60_000, minWeightPercent: 5, aggression: 2 }
 * ```
 */
export interface SlowStartOptions {
  /** Length of the ramp, in ms (Envoy `slow_start_window`, which has no default). @default 30_000 */
  readonly windowMs?: number
  /** The factor never drops below this share of the weight, in % (Envoy `min_weight_percent`). @default 10 */
  readonly minWeightPercent?: number
  /** Shape of the ramp: 1 linear, > 1 fast start then flat, < 1 slow start then steep. @default 1 */
  readonly aggression?: number
  /** How often ramping backends' factors are updated, in ms (at most `windowMs`). @default max(100, windowMs / 10) */
  readonly stepMs?: number
}

/** The lowest factor ever set, so that `minWeightPercent: 0` never yields a factor of 0. */
const MIN_FACTOR = 1e-6

/**
 * The slow-start weight factor after `elapsedMs` of a `windowMs` ramp (Envoy):
 * `max(minWeightPercent / 100, (max(elapsedMs, 1) / windowMs) ^ (1 / aggression))`, and 1 once the
 * window has passed.
 *
 * @example
 * ```ts
 * slowStartFactor(0, 30_000)          // 0.1 (the 10 % floor)
 * slowStartFactor(15_000, 30_000)     // 0.5
 * slowStartFactor(7_500, 30_000, 10, 2) // 0.5 (√0.25)
 * ```
 */
export function slowStartFactor(
  elapsedMs: number,
  windowMs: number,
  minWeightPercent = 10,
  aggression = 1,
): number {
  if (elapsedMs >= windowMs) return 1
  const time = (Math.max(elapsedMs, 1) / windowMs) ** (1 / aggression)
  return Math.max(minWeightPercent / 100, time, MIN_FACTOR)
}

/** One backend in its ramp. */
class Ramp {
  constructor(
    public backend: Backend,
    public startedAt: number,
    public factor: number,
  ) {}
}

/**
 * Slow start attached to one balancer; create it with {@link slowStart}.
 *
 * @example
 * ```ts
 * const slow: SlowStart = slowStart({ windowMs: 60_000 })
 * createBalancer().backends(urls).use(slow).build()
 * slow.factorOf('10.0.0.9:8080') // 1 outside a ramp
 * ```
 */
export class SlowStart implements HealthCheck {
  readonly name = 'slow-start'
  readonly #windowMs: number
  readonly #minPercent: number
  readonly #aggression: number
  readonly #stepMs: number
  readonly #ramps = new Map<string, Ramp>()
  readonly #task: ScheduledTask = { run: (now) => this.#step(now) }
  #control: BalancerControl | undefined
  #entry: ScheduledEntry | undefined
  #offs: (() => void)[] = []

  /** @internal Use {@link slowStart}. */
  constructor(windowMs: number, minWeightPercent: number, aggression: number, stepMs: number) {
    this.#windowMs = windowMs
    this.#minPercent = minWeightPercent
    this.#aggression = aggression
    this.#stepMs = stepMs
  }

  /** The factor set on a backend now: below 1 during its ramp, else 1. */
  factorOf(id: string): number {
    return this.#ramps.get(id)?.factor ?? 1
  }

  /** True while the backend ramps up. */
  inSlowStart(id: string): boolean {
    return this.#ramps.has(id)
  }

  /** Called once by `build()` (the `HealthCheck` contract); the members present then never ramp (HAProxy). */
  start(control: BalancerControl): void {
    if (this.#control !== undefined)
      throw new InvalidOptionError('health', 'this slow start is attached already: create one per balancer')
    this.#control = control
    this.#offs = [
      control.on('backend:add', (b) => {
        if (b.admin !== 'disabled' && b.health === 'healthy') this.#enter(b)
      }),
      control.on('backend:remove', (b) => this.#leave(b)),
      control.on('backend:state', (e) => this.#onState(e)),
    ]
  }

  /** Called by `balancer.close()`: cancels the step. */
  close(): void {
    for (const off of this.#offs.splice(0)) off()
    this.#control?.scheduler.cancel(this.#entry)
    this.#entry = undefined
  }

  #onState({ backend, from, to }: BackendStateEvent): void {
    if (to === 'healthy' && (from === 'unhealthy' || from === 'disabled')) this.#enter(backend)
    else if (to === 'unhealthy' || to === 'disabled') this.#leave(backend)
  }

  #enter(b: Backend): void {
    const control = this.#control!
    const now = control.clock.now()
    const factor = slowStartFactor(0, this.#windowMs, this.#minPercent, this.#aggression)
    const ramp = this.#ramps.get(b.id)
    if (ramp === undefined) this.#ramps.set(b.id, new Ramp(b, now, factor))
    else {
      ramp.backend = b
      ramp.startedAt = now
      ramp.factor = factor
    }
    control.setWeightFactor(b, factor)
    this.#entry ??= control.scheduler.schedule(this.#task, this.#stepMs)
  }

  #leave(b: Backend): void {
    const ramp = this.#ramps.get(b.id)
    if (ramp === undefined || ramp.backend !== b) return
    this.#ramps.delete(b.id)
    this.#control!.setWeightFactor(b, 1)
    if (this.#ramps.size === 0) {
      this.#control!.scheduler.cancel(this.#entry)
      this.#entry = undefined
    }
  }

  #step(now: number): void {
    this.#entry = undefined
    let nextEnd = Number.POSITIVE_INFINITY
    const control = this.#control!
    // One snapshot (one strategy rebuild) per step, whatever the number of ramping backends.
    control.update(() => {
      for (const [id, ramp] of this.#ramps) {
        const end = ramp.startedAt + this.#windowMs
        if (now >= end) this.#ramps.delete(id)
        else nextEnd = Math.min(nextEnd, end)
        ramp.factor = slowStartFactor(
          now - ramp.startedAt,
          this.#windowMs,
          this.#minPercent,
          this.#aggression,
        )
        control.setWeightFactor(ramp.backend, ramp.factor)
      }
    })
    if (this.#ramps.size > 0)
      this.#entry = this.#control!.scheduler.schedule(this.#task, Math.min(this.#stepMs, nextEnd - now))
  }
}

/**
 * Slow start (Envoy `slow_start_config`, HAProxy `slowstart`): a backend added at runtime, or one
 * that turns healthy again (after an ejection, a failed active check or maintenance), takes a
 * share of traffic that ramps up over `windowMs` instead of its full share at once, so that cold
 * caches, JITs and connection pools warm up. Its weight factor starts at `minWeightPercent` and
 * follows `(elapsed / windowMs) ^ (1 / aggression)`, updated every `stepMs` on the balancer's
 * scheduler. The backends present at `build()` never ramp. A ramp ends when the window ends, the
 * backend is removed, or it turns unhealthy (the ramp restarts when it recovers).
 *
 * Honoured by the strategies that read `effectiveWeight`: `p2c()` with unequal weights,
 * `weightedRoundRobin()`, `leastConnections()`, `weightedRandom()`, and `peakEwma()` (its cost is
 * divided by the factor); hashing strategies keep the
 * configured weight so that keys do not move during a ramp. With few requests or many backends,
 * a ramping backend may get little traffic (Envoy's starvation warning).
 *
 * @example
 * ```ts
 * const slow = slowStart({ windowMs: 60_000, aggression: 1 })
 * const lb = createBalancer().backends(urls).health(outlierDetection()).health(slow).build()
 * lb.add('http://10.0.0.9:8080')   // 10 % of its share now, 100 % after a minute
 * ```
 */
export function slowStart(options?: SlowStartOptions): SlowStart {
  const p = 'slowStart'
  const o = checkOptions(p, options, ['windowMs', 'minWeightPercent', 'aggression', 'stepMs'])
  const windowMs = optionalNumber(`${p}.windowMs`, o.windowMs, 30_000, { min: 0, minExclusive: true })
  const minWeightPercent = optionalNumber(`${p}.minWeightPercent`, o.minWeightPercent, 10, {
    min: 0,
    max: 100,
  })
  const aggression = optionalNumber(`${p}.aggression`, o.aggression, 1, {
    min: 0,
    minExclusive: true,
    max: 1_000,
  })
  const stepMs = optionalNumber(`${p}.stepMs`, o.stepMs, Math.max(100, windowMs / 10), {
    min: 0,
    minExclusive: true,
  })
  return new SlowStart(windowMs, minWeightPercent, aggression, Math.min(stepMs, windowMs))
}

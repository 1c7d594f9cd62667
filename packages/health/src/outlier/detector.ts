import {
  type Backend,
  type BalancerControl,
  type HealthCheck,
  type HealthCheckEvent,
  InvalidOptionError,
  type Outcome,
  type ScheduledEntry,
  type ScheduledTask,
} from '@fulcrum/core'
import { HostState } from './host-state.js'
import type { ResolvedOutlierOptions } from './options.js'
import { successRateThreshold } from './success-rate.js'

/** The health source name the detector uses with `control.setHealth()`. */
const SOURCE = 'outlier'
/** Removed ids remembered, so that a re-added backend keeps its ejection and multiplier. */
const RETIRED_MAX = 4096

/**
 * What {@link OutlierDetector.status} reports about one backend.
 *
 * @example
 * ```ts
 * const s: OutlierStatus | undefined = detector.status('10.0.0.1:8080')
 * if (s?.ejected) console.log(`back at ${new Date(s.ejectedUntil!)}`)
 * ```
 */
export interface OutlierStatus {
  readonly ejected: boolean
  /** The ejection multiplier: the next ejection lasts `baseEjectionMs × (timesEjected + 1)`, capped. */
  readonly timesEjected: number
  /** Clock time the ejection ends (jitter included), or `undefined` when not ejected. */
  readonly ejectedUntil: number | undefined
  readonly consecutiveFailures: number
}

/**
 * A passive health check (Envoy outlier detection) attached to one balancer; create it with
 * {@link outlierDetection}. It reads every release, ejects backends with `control.setHealth(b,
 * 'outlier', false, reason)` and returns them when the ejection ends. Its state is keyed by backend
 * id: it survives weight changes and removal followed by re-adding.
 *
 * @example
 * ```ts
 * const detector: OutlierDetector = outlierDetection()
 * createBalancer().backends(urls).health(detector).build()
 * metrics.gauge('ejected', detector.ejectedCount)
 * ```
 */
export class OutlierDetector implements HealthCheck {
  readonly name = 'outlier-detection'
  /** Turns off the balancer's built-in `maxFails` avoidance, which this supersedes. */
  readonly passive = true
  readonly #o: ResolvedOutlierOptions
  /** Members of the pool, by id. */
  readonly #hosts = new Map<string, HostState>()
  /** Removed ids, oldest first. */
  readonly #retired = new Map<string, HostState>()
  readonly #tick: ScheduledTask = { run: (now) => this.#onTick(now) }
  readonly #expire = (s: HostState, now: number): void =>
    this.#return(s, now, `ejection of ${s.durationMs} ms ended`)
  readonly #consecutiveReason: string
  /** Reused by the success-rate round. */
  readonly #candidates: HostState[] = []
  readonly #rates: number[] = []
  #control: BalancerControl | undefined
  #entry: ScheduledEntry | undefined
  #offs: (() => void)[] = []
  #ejected = 0
  #skipped = 0
  #closed = false

  /** @internal Use {@link outlierDetection}. */
  constructor(options: ResolvedOutlierOptions) {
    this.#o = options
    this.#consecutiveReason = `${options.consecutiveFailures} consecutive failures`
  }

  /** Backends ejected now. */
  get ejectedCount(): number {
    return this.#ejected
  }

  /** Ejections not made because `maxEjectionPercent` was reached. */
  get skippedEjections(): number {
    return this.#skipped
  }

  /** The detector's view of a pool member, or `undefined` for an id not in the pool. */
  status(id: string): OutlierStatus | undefined {
    const s = this.#hosts.get(id)
    if (s === undefined) return undefined
    return {
      ejected: s.ejected,
      timesEjected: s.timesEjected,
      ejectedUntil: s.ejected ? s.ejectedUntil : undefined,
      consecutiveFailures: s.consecutiveFailures,
    }
  }

  /** Called once by `build()` (the `HealthCheck` contract); throws when attached to a second balancer. */
  start(control: BalancerControl): void {
    if (this.#control !== undefined)
      throw new InvalidOptionError(
        'health',
        'this outlier detector is attached already: create one per balancer',
      )
    this.#control = control
    for (const b of control.backends()) this.#hosts.set(b.id, new HostState(b, this.#expire))
    this.#offs = [
      control.on('backend:add', (b) => this.#onAdd(b)),
      control.on('backend:remove', (b) => this.#onRemove(b)),
      control.on('health:check', (e) => this.#onCheck(e)),
    ]
    this.#entry = control.scheduler.schedule(this.#tick, this.#o.intervalMs)
  }

  /** Called by the balancer on every release: O(1), allocation-free. */
  onRelease(backend: Backend, outcome: Outcome, latencyMs: number, now: number): void {
    const s = this.#hosts.get(backend.id)
    if (s === undefined || s.ejected || s.backend !== backend) return
    const kind = outcome.error
    if (!outcome.ok && (kind === 'cancelled' || kind === 'overload')) return
    if (this.#o.isFailure(outcome, latencyMs)) {
      s.requests++
      const limit = this.#o.consecutiveFailures
      if (++s.consecutiveFailures >= limit && limit > 0) this.#trip(s, now, this.#consecutiveReason)
    } else if (outcome.ok) {
      s.requests++
      s.successes++
      s.consecutiveFailures = 0
    }
  }

  /** Called by `balancer.close()`: cancels the interval and every pending ejection end. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const off of this.#offs) off()
    const scheduler = this.#control?.scheduler
    scheduler?.cancel(this.#entry)
    for (const s of this.#hosts.values()) scheduler?.cancel(s.entry)
  }

  /** A detector fired: eject `s` unless `maxEjectionPercent` forbids it. */
  #trip(s: HostState, now: number, reason: string): void {
    s.consecutiveFailures = 0
    if (this.#closed) return
    const o = this.#o
    // Envoy `ejectHost`: at most max % ejected, but one host may always be.
    if (this.#ejected > 0 && (100 * (this.#ejected + 1)) / this.#hosts.size > o.maxEjectionPercent) {
      this.#skipped++
      return
    }
    if (o.baseEjectionMs * s.timesEjected < o.maxEjectionMs) s.timesEjected++
    const jitter =
      o.ejectionJitterMs === 0 ? 0 : Math.floor(this.#control!.random.next() * (o.ejectionJitterMs + 1))
    s.durationMs =
      Math.min(o.baseEjectionMs * s.timesEjected, Math.max(o.baseEjectionMs, o.maxEjectionMs)) + jitter
    s.ejected = true
    s.ejectedUntil = now + s.durationMs
    this.#ejected++
    s.entry = this.#control!.scheduler.schedule(s, s.durationMs)
    this.#control!.setHealth(s.backend, SOURCE, false, reason)
  }

  /** Returns an ejected member to service. */
  #return(s: HostState, now: number, reason: string): void {
    if (!s.ejected || this.#closed) return
    this.#control!.scheduler.cancel(s.entry)
    s.entry = undefined
    s.ejected = false
    s.ejectedUntil = -1
    s.returnedAt = now
    s.consecutiveFailures = 0
    this.#ejected--
    this.#control!.setHealth(s.backend, SOURCE, true, reason)
  }

  #onTick(now: number): void {
    const o = this.#o
    this.#entry = this.#control!.scheduler.schedule(this.#tick, o.intervalMs)
    for (const s of this.#hosts.values()) {
      // Envoy `checkHostForUneject`: a full interval back in service shrinks the multiplier.
      if (!s.ejected && s.timesEjected > 0 && now - s.returnedAt >= o.intervalMs) s.timesEjected--
      s.swap()
    }
    if (o.successRate !== undefined) this.#successRound(now)
  }

  /** Envoy success-rate detection over the interval that just ended. */
  #successRound(now: number): void {
    const sr = this.#o.successRate!
    const hosts = this.#candidates
    const rates = this.#rates
    hosts.length = 0
    rates.length = 0
    for (const s of this.#hosts.values())
      if (!s.ejected && s.lastRequests >= sr.requestVolume) {
        hosts.push(s)
        rates.push(s.lastSuccesses / s.lastRequests)
      }
    if (hosts.length >= sr.minHosts) {
      const { mean, threshold } = successRateThreshold(rates, sr.stdevFactor)
      for (let i = 0; i < hosts.length; i++) {
        const s = hosts[i]!
        if (rates[i]! < threshold && this.#hosts.get(s.backend.id) === s && !s.ejected)
          this.#trip(
            s,
            now,
            `success rate ${rates[i]!.toFixed(2)} below ${threshold.toFixed(2)} (mean ${mean.toFixed(2)}, ${sr.stdevFactor}σ)`,
          )
      }
    }
    hosts.length = 0
    rates.length = 0
  }

  #onAdd(b: Backend): void {
    const old = this.#retired.get(b.id)
    this.#retired.delete(b.id)
    if (old === undefined || old.backend !== b) {
      // New, or another object under a known id (the pool made a fresh backend): start afresh.
      this.#hosts.set(b.id, old?.reset(b) ?? new HostState(b, this.#expire))
      return
    }
    // The pool revived the removed backend, `outlier` verdict included: resume its ejection.
    old.clearCounts()
    this.#hosts.set(b.id, old)
    if (!old.ejected) return
    this.#ejected++
    const now = this.#control!.clock.now()
    if (old.ejectedUntil > now) old.entry = this.#control!.scheduler.schedule(old, old.ejectedUntil - now)
    else this.#expire(old, now)
  }

  #onRemove(b: Backend): void {
    const s = this.#hosts.get(b.id)
    if (s === undefined || s.backend !== b) return
    this.#hosts.delete(b.id)
    this.#control!.scheduler.cancel(s.entry)
    s.entry = undefined
    if (s.ejected) this.#ejected--
    this.#retired.set(b.id, s)
    if (this.#retired.size > RETIRED_MAX) this.#retired.delete(this.#retired.keys().next().value!)
  }

  #onCheck(e: HealthCheckEvent): void {
    if (!e.ok || !this.#o.unejectOnActiveCheck) return
    const s = this.#hosts.get(e.backend.id)
    if (s?.ejected && s.backend === e.backend)
      this.#return(s, this.#control!.clock.now(), 'active check passed')
  }
}

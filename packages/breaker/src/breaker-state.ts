/**
 * The state machine of one backend's circuit breaker (closed → open → half-open → closed | open).
 * One object per backend id, created once; every transition is O(1) and the steady state allocates
 * nothing (an event payload and a scheduler entry are created only on a transition).
 */
import {
  type Backend,
  type BreakerState,
  equalJitterBackoff,
  type Random,
  type ScheduledEntry,
  type ScheduledTask,
  type Scheduler,
} from '@fulcrum/core'
import type { ResolvedBreakerOptions } from './breaker-options.js'
import { FAILURE, NEUTRAL, type Verdict } from './failure-filter.js'
import { OutcomeWindow } from './outcome-window.js'

/** @internal What a breaker state needs from its plugin. */
export interface BreakerHost {
  readonly options: ResolvedBreakerOptions
  readonly scheduler: Scheduler
  readonly random: Random
  transition(s: BackendBreaker, from: BreakerState, reason: string): void
}

/** Buckets of the ratio window (Linkerd's ring of 10). */
const BUCKETS = 10

/** @internal One backend's breaker; also the scheduler task that ends its backoff. */
export class BackendBreaker implements ScheduledTask {
  /** The latest backend object with this id (for events). */
  backend: Backend
  state: BreakerState = 'closed'
  consecutiveFailures = 0
  /** Openings since the breaker last closed; the backoff step is `opens - 1`. */
  opens = 0
  /** Clock time the open state ends (0 when not open). */
  openUntil = 0
  /** The backoff of the current opening, in ms. */
  delayMs = 0
  /** Half-open: probes acquired and not yet released. */
  probesInFlight = 0
  /** Half-open: probes that succeeded. */
  probeSuccesses = 0
  /** Releases still to ignore: requests in flight when the breaker opened. */
  stragglers = 0
  entry: ScheduledEntry | undefined
  readonly #host: BreakerHost
  readonly #window: OutcomeWindow | undefined

  constructor(backend: Backend, host: BreakerHost) {
    this.backend = backend
    this.#host = host
    const o = host.options
    if (o.failureRatio > 0) this.#window = new OutcomeWindow(o.windowMs, BUCKETS)
  }

  /** May this backend take the pick? Closed: yes; open: no; half-open: while probes are left. */
  accepts(): boolean {
    if (this.state === 'closed') return true
    if (this.state === 'open') return false
    return this.probesInFlight + this.probeSuccesses < this.#host.options.halfOpenProbes
  }

  /** A request was acquired on the backend. */
  acquired(): void {
    if (this.state === 'half-open') this.probesInFlight++
  }

  /** A request on the backend was released with `verdict`; `inflight` is the backend's count after it. */
  released(verdict: Verdict, inflight: number, now: number): void {
    if (this.state === 'closed') {
      this.#closedRelease(verdict, inflight, now)
      return
    }
    // Requests acquired before the breaker opened: their outcome says nothing about recovery.
    if (this.stragglers > 0) {
      this.stragglers--
      return
    }
    if (this.state === 'open' || this.probesInFlight === 0) return
    this.probesInFlight--
    if (verdict === NEUTRAL) return // the probe slot is free again
    if (verdict === FAILURE) {
      this.#open('probe failed', inflight)
      return
    }
    const n = ++this.probeSuccesses
    if (n >= this.#host.options.halfOpenProbes)
      this.#close(n === 1 ? '1 probe succeeded' : `${n} probes succeeded`)
  }

  #closedRelease(verdict: Verdict, inflight: number, now: number): void {
    if (verdict === NEUTRAL) return
    const o = this.#host.options
    const window = this.#window
    window?.record(verdict === FAILURE, now)
    if (verdict !== FAILURE) {
      this.consecutiveFailures = 0
      return
    }
    const n = ++this.consecutiveFailures
    if (o.consecutiveFailures > 0 && n >= o.consecutiveFailures) {
      this.#open(`${n} consecutive failures`, inflight)
      return
    }
    if (window === undefined) return
    const total = window.requests(now)
    if (total < o.minRequests) return
    const ratio = window.failures() / total
    if (ratio >= o.failureRatio)
      this.#open(`failure ratio ${ratio.toFixed(2)} ≥ ${o.failureRatio} over ${total} requests`, inflight)
  }

  #open(reason: string, inflight: number): void {
    const host = this.#host
    const o = host.options
    const from = this.state
    this.state = 'open'
    const step = this.opens++
    this.delayMs = equalJitterBackoff(step, o.minMs, o.maxMs, host.random)
    host.scheduler.cancel(this.entry)
    this.entry = host.scheduler.schedule(this, this.delayMs)
    this.openUntil = this.entry.at
    this.stragglers = inflight
    this.probesInFlight = 0
    this.probeSuccesses = 0
    host.transition(this, from, reason)
  }

  #close(reason: string): void {
    this.state = 'closed'
    this.opens = 0
    this.stragglers = 0
    this.probesInFlight = 0
    this.probeSuccesses = 0
    this.consecutiveFailures = 0
    this.#window?.reset()
    this.#host.transition(this, 'half-open', reason)
  }

  /** The backoff ended: open → half-open. */
  run(): void {
    this.entry = undefined
    if (this.state !== 'open') return
    this.state = 'half-open'
    this.openUntil = 0
    this.#host.transition(this, 'open', `backoff of ${Math.round(this.delayMs)} ms elapsed`)
  }

  /** Cancels the backoff entry (the plugin is closing). */
  cancel(): void {
    this.#host.scheduler.cancel(this.entry)
    this.entry = undefined
  }
}

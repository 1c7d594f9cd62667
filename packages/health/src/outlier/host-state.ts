import type { Backend, ScheduledEntry, ScheduledTask } from '@fulcrum/core'

/**
 * @internal What the outlier detector knows about one backend id. Created once per id (on first
 * sight), mutated in place by `onRelease()`, so the release path allocates nothing. It is also the
 * scheduler task that ends its own ejection.
 */
export class HostState implements ScheduledTask {
  /** The pool's current object for this id. */
  backend: Backend
  /** Failures since the last success (reset by a success, an ejection attempt and a return). */
  consecutiveFailures = 0
  /** The ejection multiplier: +1 per ejection (capped), −1 per interval spent back in service. */
  timesEjected = 0
  ejected = false
  /** Clock time the current ejection ends, or -1. */
  ejectedUntil = -1
  /** Length of the current ejection, in ms (for the return reason). */
  durationMs = 0
  /** Clock time of the last return to service, or -Infinity. */
  returnedAt = Number.NEGATIVE_INFINITY
  /** The scheduler entry of the ejection's end, while ejected and a member. */
  entry: ScheduledEntry | undefined
  /** Counted requests (successes + failures) and successes of the running interval. */
  requests = 0
  successes = 0
  /** The same, of the last completed interval (the success-rate detector reads these). */
  lastRequests = 0
  lastSuccesses = 0
  readonly #onExpire: (state: HostState, now: number) => void

  constructor(backend: Backend, onExpire: (state: HostState, now: number) => void) {
    this.backend = backend
    this.#onExpire = onExpire
  }

  /** The scheduler calls this when the ejection time is over. */
  run(now: number): void {
    this.entry = undefined
    this.#onExpire(this, now)
  }

  /** Ends the running interval: its counters become the last interval's. */
  swap(): void {
    this.lastRequests = this.requests
    this.lastSuccesses = this.successes
    this.requests = 0
    this.successes = 0
  }

  /** Forgets everything (another backend now has this id). */
  reset(backend: Backend): this {
    this.backend = backend
    this.consecutiveFailures = 0
    this.timesEjected = 0
    this.ejected = false
    this.ejectedUntil = -1
    this.durationMs = 0
    this.returnedAt = Number.NEGATIVE_INFINITY
    this.entry = undefined
    this.clearCounts()
    return this
  }

  /** Clears the interval counters. */
  clearCounts(): void {
    this.requests = 0
    this.successes = 0
    this.lastRequests = 0
    this.lastSuccesses = 0
  }
}

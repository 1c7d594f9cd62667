import type { Backend } from './backend.js'
import type { Outcome } from './outcome.js'

/**
 * The state of one picked attempt, owned by the caller. `Balancer.acquire()` fills it and
 * `Balancer.release()` empties it; a proxy can embed these fields in its own per-request object so
 * that its fast path allocates no lease. Releasing a slot that is not held is a no-op.
 */
export interface LeaseSlot {
  /** The picked backend (kept after release, for logging). */
  backend: Backend | undefined
  /** Clock time of the pick. */
  startedAt: number
  /** True between acquire and release. */
  held: boolean
}

/** @internal What a {@link Lease} needs from its balancer. */
export interface LeaseOwner {
  release(slot: LeaseSlot, outcome?: Outcome): void
}

/**
 * A picked backend, returned by `balancer.pick()`. The backend's in-flight count includes this
 * request until `release()` is called; call it exactly once when the request ends (further calls
 * are ignored, never a double decrement).
 *
 * @example
 * ```ts
 * const lease = lb.pick({ key: userId })
 * try { await call(lease.backend); lease.release() } catch { lease.release({ ok: false, error: 'connect' }) }
 * ```
 */
export class Lease implements LeaseSlot {
  backend: Backend | undefined = undefined
  startedAt = 0
  held = false
  readonly #owner: LeaseOwner

  /** @internal Created by `balancer.pick()`. */
  constructor(owner: LeaseOwner) {
    this.#owner = owner
  }

  /** Ends the attempt and reports its outcome (default: success). Idempotent. */
  release(outcome?: Outcome): void {
    this.#owner.release(this, outcome)
  }

  /** `using lease = lb.pick()` releases as a success when the scope ends (if not released before). */
  [Symbol.dispose](): void {
    this.#owner.release(this)
  }
}

/**
 * What a finished request reports back to the balancer, and how failures are classified.
 */

/**
 * Why an attempt failed. `cancelled` (the caller gave up) is never held against the backend.
 * - `connect`: no connection could be made (refused, unreachable, connect timeout).
 * - `timeout`: the backend was too slow (headers or body timeout, per-try timeout).
 * - `reset`: the connection broke during the exchange.
 * - `status`: the backend answered with a status counted as failure (5xx by default).
 * - `protocol`: the backend's answer was malformed.
 * - `overload`: the backend or a limit refused the request before it was sent.
 * - `cancelled`: the client went away or aborted.
 * - `error`: anything else.
 */
export type FailureKind =
  | 'connect'
  | 'timeout'
  | 'reset'
  | 'status'
  | 'protocol'
  | 'overload'
  | 'cancelled'
  | 'error'

/**
 * The result of one attempt, passed to `lease.release()`.
 *
 * @example
 * ```ts
 * lease.release({ ok: res.status < 500, status: res.status })
 * lease.release({ ok: false, error: 'connect' })
 * ```
 */
export interface Outcome {
  /** True when the backend served the request well. */
  readonly ok: boolean
  /** The response status, when there was one. */
  readonly status?: number
  /** Why it failed, when `ok` is false. @default 'error' */
  readonly error?: FailureKind
  /** The latency to record instead of the time measured between pick and release. */
  readonly latencyMs?: number
}

/** A shared success outcome; pass it to avoid allocating one per release. */
export const OK: Outcome = Object.freeze({ ok: true })

/** A shared cancelled outcome: the caller gave up, the backend is not blamed. */
export const CANCELLED: Outcome = Object.freeze({ ok: false, error: 'cancelled' })

/** True when an outcome should count against the backend (a failure that is not a cancellation). */
export function isBackendFailure(outcome: Outcome): boolean {
  return !outcome.ok && outcome.error !== 'cancelled'
}

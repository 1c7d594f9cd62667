/**
 * Typed errors of `@fulcrum/core`. Every error carries a stable `code` (`FULCRUM_ERR_*`, tabled in
 * `docs/errors.md`) and a cross-realm brand, so `isFulcrumError()` works even when two copies of the
 * package are installed.
 */

const brand: unique symbol = Symbol.for('fulcrum.error') as never

/** Every error code this package throws. */
export type CoreErrorCode =
  | 'FULCRUM_ERR_INVALID_OPTION'
  | 'FULCRUM_ERR_NO_BACKEND'
  | 'FULCRUM_ERR_UNKNOWN_BACKEND'
  | 'FULCRUM_ERR_DUPLICATE_BACKEND'
  | 'FULCRUM_ERR_TIMEOUT'
  | 'FULCRUM_ERR_ATTEMPT_TIMEOUT'
  | 'FULCRUM_ERR_CLOSED'
  | 'FULCRUM_ERR_OVERLOAD'

/**
 * Base class of every Fulcrum error.
 *
 * @example
 * ```ts
 * try { lb.pick() } catch (err) { if (isFulcrumError(err) && err.code === 'FULCRUM_ERR_NO_BACKEND') retryLater() }
 * ```
 */
export class FulcrumError extends Error {
  /** Stable, documented error code (`FULCRUM_ERR_*`). */
  readonly code: string
  readonly [brand] = true

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'FulcrumError'
  }
}

/** True for any error thrown by a Fulcrum package, whichever copy of the package created it. */
export function isFulcrumError(value: unknown): value is FulcrumError {
  return typeof value === 'object' && value !== null && (value as { [brand]?: unknown })[brand] === true
}

/**
 * A builder or runtime option has a bad value. `path` names the option, e.g. `backends[2].weight`.
 * Thrown by `.build()` and by runtime methods such as `add()` and `setWeight()`.
 */
export class InvalidOptionError extends FulcrumError {
  /** Dotted path of the bad option, e.g. `retry.backoff.baseMs`. */
  readonly path: string
  constructor(path: string, message: string) {
    super('FULCRUM_ERR_INVALID_OPTION', `Invalid option ${path}: ${message}`)
    this.name = 'InvalidOptionError'
    this.path = path
  }
}

/** No backend is eligible for this pick: all are unhealthy, draining, disabled, vetoed or already tried. */
export class NoBackendError extends FulcrumError {
  /** How many backends the pool holds (eligible or not). */
  readonly total: number
  /** How many were eligible before tried and vetoed backends were skipped. */
  readonly eligible: number
  constructor(total: number, eligible: number, options?: { cause?: unknown }) {
    super(
      'FULCRUM_ERR_NO_BACKEND',
      total === 0
        ? 'No backend available: the pool is empty'
        : `No backend available: ${eligible} of ${total} backends eligible, none could take the request`,
      options,
    )
    this.name = 'NoBackendError'
    this.total = total
    this.eligible = eligible
  }
}

/** A runtime operation named a backend id the pool does not hold. */
export class UnknownBackendError extends FulcrumError {
  /** The id that was not found. */
  readonly id: string
  constructor(id: string) {
    super('FULCRUM_ERR_UNKNOWN_BACKEND', `Unknown backend "${id}"`)
    this.name = 'UnknownBackendError'
    this.id = id
  }
}

/** `add()` was given a backend whose id is already in the pool. */
export class DuplicateBackendError extends FulcrumError {
  /** The id that is already present. */
  readonly id: string
  constructor(id: string) {
    super('FULCRUM_ERR_DUPLICATE_BACKEND', `Backend "${id}" is already in the pool`)
    this.name = 'DuplicateBackendError'
    this.id = id
  }
}

/** `execute()` ran past its overall deadline (`retry.timeoutMs` or the call's `timeoutMs`). */
export class DeadlineExceededError extends FulcrumError {
  /** The deadline that was exceeded, in milliseconds. */
  readonly timeoutMs: number
  constructor(timeoutMs: number, options?: { cause?: unknown }) {
    super('FULCRUM_ERR_TIMEOUT', `Deadline of ${timeoutMs} ms exceeded`, options)
    this.name = 'DeadlineExceededError'
    this.timeoutMs = timeoutMs
  }
}

/** One attempt of `execute()` ran past `retry.perTryTimeoutMs`; it is retryable. */
export class AttemptTimeoutError extends FulcrumError {
  /** The per-try timeout, in milliseconds. */
  readonly timeoutMs: number
  constructor(timeoutMs: number) {
    super('FULCRUM_ERR_ATTEMPT_TIMEOUT', `Attempt timed out after ${timeoutMs} ms`)
    this.name = 'AttemptTimeoutError'
    this.timeoutMs = timeoutMs
  }
}

/** The balancer was closed; it takes no new picks. */
export class BalancerClosedError extends FulcrumError {
  constructor() {
    super('FULCRUM_ERR_CLOSED', 'The balancer is closed')
    this.name = 'BalancerClosedError'
  }
}

/**
 * Admission control refused the request: a concurrency limit or its queue is full, or the request
 * waited in the queue past the queue timeout. Proxies answer 503 with `Retry-After`; nothing was
 * sent to a backend, so it is always safe to retry later.
 */
export class OverloadError extends FulcrumError {
  /** The plugin that refused the request. */
  readonly source: string
  /** Which limit: `'maxRequests'`, `'maxRequestsPerBackend'`, `'maxPending'`, `'queueTimeout'` … */
  readonly reason: string
  /** A hint for the client, in ms (proxies send it as `Retry-After`, rounded up to seconds). */
  readonly retryAfterMs: number
  constructor(source: string, reason: string, retryAfterMs = 1_000) {
    super('FULCRUM_ERR_OVERLOAD', `Overloaded: ${source} refused the request (${reason})`)
    this.name = 'OverloadError'
    this.source = source
    this.reason = reason
    this.retryAfterMs = retryAfterMs
  }
}

/**
 * True for an {@link OverloadError} (admission control refused the request), whichever copy of the
 * package created it: proxies answer it 503 with `Retry-After`, or wait in the limit's queue.
 *
 * @example
 * ```ts
 * try { lb.pick() } catch (err) { if (isOverloadError(err)) return reply(503, err.retryAfterMs) }
 * ```
 */
export function isOverloadError(value: unknown): value is OverloadError {
  return isFulcrumError(value) && value.code === 'FULCRUM_ERR_OVERLOAD'
}

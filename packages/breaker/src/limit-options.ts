/**
 * Options of `concurrencyLimit()` and their validation.
 */
import { checkOptions, checkString, InvalidOptionError, optionalNumber } from '@fulcrum/core'

/**
 * Options of `concurrencyLimit()`: Envoy's circuit-breaker thresholds and HAProxy's `maxconn`,
 * `maxqueue` and `timeout queue`. Set `maxRequests`, `maxRequestsPerBackend` or both.
 *
 * @example
 * ```ts
 * const options: ConcurrencyLimitOptions = {
 *   maxRequests: 1_024, maxRequestsPerBackend: 100,
 *   maxPending: 256, queueTimeoutMs: 1_000, retryAfterMs: 1_000,
 * }
 * ```
 */
export interface ConcurrencyLimitOptions {
  /** The plugin's name (in errors, events and snapshots); distinct per limit on one balancer. @default 'concurrency-limit' */
  readonly name?: string
  /** Most leases held on the balancer at once (Envoy `max_requests`). @default unlimited */
  readonly maxRequests?: number
  /**
   * Most leases held on one backend at once (HAProxy server `maxconn`, NGINX `max_conns`): a full
   * backend is skipped; when every candidate is full the request queues or fails. @default unlimited
   */
  readonly maxRequestsPerBackend?: number
  /** Most requests waiting for capacity (HAProxy `maxqueue`); 0 fails fast. @default 0 */
  readonly maxPending?: number
  /** Longest wait in the queue, in ms, from the first time the request queued (HAProxy `timeout queue`). @default 1_000 */
  readonly queueTimeoutMs?: number
  /** The `retryAfterMs` hint on this limit's `OverloadError`s (proxies send `Retry-After`). @default 1_000 */
  readonly retryAfterMs?: number
}

/** @internal The validated options; unset limits are +Infinity. */
export interface ResolvedLimitOptions {
  readonly name: string
  readonly maxRequests: number
  readonly maxRequestsPerBackend: number
  readonly maxPending: number
  readonly queueTimeoutMs: number
  readonly retryAfterMs: number
}

const P = 'concurrencyLimit'
const KEYS = ['name', 'maxRequests', 'maxRequestsPerBackend', 'maxPending', 'queueTimeoutMs', 'retryAfterMs']
const COUNT = { min: 1, max: 2 ** 31 - 1, integer: true }
const MS = { min: 0, max: 2 ** 31 - 1 }
const UNLIMITED = Number.POSITIVE_INFINITY

/** @internal Validates {@link ConcurrencyLimitOptions}; throws `InvalidOptionError` naming the option. */
export function resolveLimitOptions(options: ConcurrencyLimitOptions | undefined): ResolvedLimitOptions {
  const o = checkOptions(P, options, KEYS)
  if (o.maxRequests === undefined && o.maxRequestsPerBackend === undefined)
    throw new InvalidOptionError(P, 'set maxRequests, maxRequestsPerBackend or both')
  return {
    name: o.name === undefined ? 'concurrency-limit' : checkString(`${P}.name`, o.name),
    maxRequests: optionalNumber(`${P}.maxRequests`, o.maxRequests, UNLIMITED, COUNT),
    maxRequestsPerBackend: optionalNumber(
      `${P}.maxRequestsPerBackend`,
      o.maxRequestsPerBackend,
      UNLIMITED,
      COUNT,
    ),
    maxPending: optionalNumber(`${P}.maxPending`, o.maxPending, 0, { ...COUNT, min: 0 }),
    queueTimeoutMs: optionalNumber(`${P}.queueTimeoutMs`, o.queueTimeoutMs, 1_000, { ...MS, min: 1 }),
    retryAfterMs: optionalNumber(`${P}.retryAfterMs`, o.retryAfterMs, 1_000, MS),
  }
}

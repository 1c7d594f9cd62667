/**
 * Options of `circuitBreaker()` and their validation.
 */
import { checkOptions, checkString, InvalidOptionError, optionalNumber } from '@fulcrum/core'
import {
  type CountedFailureKind,
  FailureFilter,
  type FailurePredicate,
  type StatusMatcher,
} from './failure-filter.js'

/**
 * How long an open breaker stays open: an equal-jittered exponential backoff (Finagle
 * `Backoff.equalJittered`) that doubles with every consecutive opening and resets when the breaker
 * closes. Opening number `n` (1-based) waits uniformly in `[c / 2, c)`, `c = min(maxMs, minMs × 2^(n-1))`.
 *
 * @example
 * ```ts
 * const backoff: BreakerBackoffOptions = { minMs: 1_000, maxMs: 60_000 }
 * ```
 */
export interface BreakerBackoffOptions {
  /** The ceiling of the first opening, in ms. @default 5_000 */
  readonly minMs?: number
  /** The largest ceiling, in ms. @default 300_000 */
  readonly maxMs?: number
}

/**
 * Options of `circuitBreaker()`. Every option is optional; the defaults follow Finagle's
 * failure accrual and Linkerd's breakers.
 *
 * @example
 * ```ts
 * const options: CircuitBreakerOptions = {
 *   consecutiveFailures: 5,
 *   failureRatio: 0.5, windowMs: 10_000, minRequests: 20,
 *   backoff: { minMs: 5_000, maxMs: 300_000 },
 *   halfOpenProbes: 1,
 *   failureStatuses: [[500, 599]],
 * }
 * ```
 */
export interface CircuitBreakerOptions {
  /** The plugin's name (in errors, events and snapshots). @default 'circuit-breaker' */
  readonly name?: string
  /** Opens after this many failures in a row; 0 disables the rule. @default 5 */
  readonly consecutiveFailures?: number
  /**
   * Opens when failures / requests over the last `windowMs` reach this ratio, once the window holds
   * at least `minRequests` counted requests; 0 disables the rule. @default 0.5
   */
  readonly failureRatio?: number
  /** The window of the ratio rule, in ms (10 rolling buckets). @default 10_000 */
  readonly windowMs?: number
  /** The fewest counted requests in the window before the ratio rule may open. @default 20 */
  readonly minRequests?: number
  /** How long the breaker stays open. @default { minMs: 5_000, maxMs: 300_000 } */
  readonly backoff?: BreakerBackoffOptions
  /** Requests a half-open breaker admits; all must succeed to close it. @default 1 */
  readonly halfOpenProbes?: number
  /**
   * Decides what is a failure, overriding `failureKinds`, `failureStatuses` and `slowCallMs`.
   * A cancelled or overloaded attempt it does not call a failure is neutral (neither success nor failure).
   */
  readonly isFailure?: FailurePredicate
  /**
   * Failure kinds (`outcome.error` of an `ok: false` outcome) that count. `'cancelled'` and
   * `'overload'` never count and are neutral. An `ok: false` outcome of another kind is a success.
   * @default ['connect', 'reset', 'timeout', 'protocol', 'status', 'error']
   */
  readonly failureKinds?: readonly CountedFailureKind[]
  /**
   * Statuses that count as failures even when `ok` is true, e.g. `[429, [500, 599]]`.
   * @default [] (only what `ok: false` says)
   */
  readonly failureStatuses?: readonly StatusMatcher[]
  /** Attempts slower than this (ms) count as failures. @default off */
  readonly slowCallMs?: number
}

/** @internal The validated options. */
export interface ResolvedBreakerOptions {
  readonly name: string
  readonly consecutiveFailures: number
  readonly failureRatio: number
  readonly windowMs: number
  readonly minRequests: number
  readonly minMs: number
  readonly maxMs: number
  readonly halfOpenProbes: number
  readonly filter: FailureFilter
}

const P = 'circuitBreaker'
const KEYS = [
  'name',
  'consecutiveFailures',
  'failureRatio',
  'windowMs',
  'minRequests',
  'backoff',
  'halfOpenProbes',
  'isFailure',
  'failureKinds',
  'failureStatuses',
  'slowCallMs',
]
const INT = { min: 0, max: 1_000_000, integer: true }

/** @internal Validates {@link CircuitBreakerOptions}; throws `InvalidOptionError` naming the option. */
export function resolveBreakerOptions(options: CircuitBreakerOptions | undefined): ResolvedBreakerOptions {
  const o = checkOptions(P, options, KEYS)
  const name = o.name === undefined ? 'circuit-breaker' : checkString(`${P}.name`, o.name)
  const consecutiveFailures = optionalNumber(`${P}.consecutiveFailures`, o.consecutiveFailures, 5, INT)
  const failureRatio = optionalNumber(`${P}.failureRatio`, o.failureRatio, 0.5, { min: 0, max: 1 })
  if (consecutiveFailures === 0 && failureRatio === 0)
    throw new InvalidOptionError(
      `${P}.failureRatio`,
      'consecutiveFailures and failureRatio are both 0: the breaker could never open',
    )
  const windowMs = optionalNumber(`${P}.windowMs`, o.windowMs, 10_000, { min: 10, max: 2 ** 31 - 1 })
  const minRequests = optionalNumber(`${P}.minRequests`, o.minRequests, 20, { ...INT, min: 1 })
  const b = checkOptions(`${P}.backoff`, o.backoff, ['minMs', 'maxMs'])
  const minMs = optionalNumber(`${P}.backoff.minMs`, b.minMs, 5_000, { min: 1, max: 2 ** 31 - 1 })
  const maxMs = optionalNumber(`${P}.backoff.maxMs`, b.maxMs, Math.max(300_000, minMs), {
    min: minMs,
    max: 2 ** 31 - 1,
  })
  const halfOpenProbes = optionalNumber(`${P}.halfOpenProbes`, o.halfOpenProbes, 1, { ...INT, min: 1 })
  const filter = new FailureFilter(P, o)
  return {
    name,
    consecutiveFailures,
    failureRatio,
    windowMs,
    minRequests,
    minMs,
    maxMs,
    halfOpenProbes,
    filter,
  }
}

import type { Outcome } from './outcome.js'
import type { AttemptInfo } from './plugin.js'
import type { BackoffOptions } from './primitives/backoff.js'
import { RetryBudget, type RetryBudgetOptions } from './primitives/retry-budget.js'
import { checkFunction, checkKeys, checkObject, optionalNumber } from './validate.js'

/**
 * Retry settings of `execute()` (the `.retry()` builder call). Retries always go to a backend not
 * yet tried by the request; they wait a full-jitter backoff, honour a `retryAfterMs` carried by the
 * error, are paid from a token budget, and all attempts share one overall deadline.
 *
 * @example
 * ```ts
 * createBalancer().retry({ retries: 2, timeoutMs: 5_000, perTryTimeoutMs: 1_000 })
 * ```
 */
export interface RetryOptions {
  /** Retries after the first attempt; attempts are exactly `1 + retries`. @default 2 */
  readonly retries?: number
  /** Full-jitter exponential backoff. @default { baseMs: 25, maxMs: 250 } */
  readonly backoff?: BackoffOptions
  /** Token budget shared by all requests; `false` disables it. @default { percent: 0.2, minPerSecond: 10, ttlMs: 10_000 } */
  readonly budget?: RetryBudgetOptions | false
  /** One deadline for all attempts and backoffs, in ms. @default Infinity (none) */
  readonly timeoutMs?: number
  /** Deadline of each attempt, in ms; a timed-out attempt is retryable. @default Infinity (none) */
  readonly perTryTimeoutMs?: number
  /** Longest `retryAfterMs` (carried by an error, e.g. from `Retry-After`) honoured before a retry. @default 10_000 */
  readonly retryAfterMaxMs?: number
  /**
   * Decides whether a failed attempt may be retried.
   * @default every error except cancellations and errors with `retryable: false`
   */
  readonly retryOn?: (error: unknown, info: AttemptInfo) => boolean
  /**
   * Turns a resolved result into an outcome, so that e.g. an HTTP 503 counts as a failure and is
   * retried; the last attempt's result is returned as is. @default every result is a success
   */
  readonly classify?: (result: unknown) => Outcome | undefined
}

/** The validated retry policy of a balancer. */
export interface RetryPolicy {
  /** True when `.retry()` was called; proxies apply their own failover default otherwise. */
  readonly configured: boolean
  readonly retries: number
  readonly backoff: Required<BackoffOptions>
  /** The shared budget, or `null` when disabled. Proxies withdraw from it too. */
  readonly budget: RetryBudget | null
  readonly timeoutMs: number
  readonly perTryTimeoutMs: number
  readonly retryAfterMaxMs: number
  readonly retryOn: ((error: unknown, info: AttemptInfo) => boolean) | undefined
  readonly classify: ((result: unknown) => Outcome | undefined) | undefined
}

const KEYS = [
  'retries',
  'backoff',
  'budget',
  'timeoutMs',
  'perTryTimeoutMs',
  'retryAfterMaxMs',
  'retryOn',
  'classify',
]

/** @internal Validates `.retry()` options; `undefined` means `.retry()` was never called (no retries). */
export function resolveRetry(options: RetryOptions | undefined, path = 'retry'): RetryPolicy {
  const o: RetryOptions = options ?? { retries: 0 }
  checkObject(path, o as unknown)
  checkKeys(path, o as Record<string, unknown>, KEYS)
  const retries = optionalNumber(`${path}.retries`, o.retries, 2, { min: 0, max: 100, integer: true })
  let baseMs = 25
  let maxMs = 250
  if (o.backoff !== undefined) {
    checkObject(`${path}.backoff`, o.backoff)
    checkKeys(`${path}.backoff`, o.backoff as Record<string, unknown>, ['baseMs', 'maxMs'])
    baseMs = optionalNumber(`${path}.backoff.baseMs`, o.backoff.baseMs, 25, { min: 0 })
    maxMs = optionalNumber(`${path}.backoff.maxMs`, o.backoff.maxMs, Math.max(250, baseMs), { min: baseMs })
  }
  let budget: RetryBudget | null = null
  if (o.budget !== false) {
    const b = o.budget ?? {}
    checkObject(`${path}.budget`, b)
    checkKeys(`${path}.budget`, b as Record<string, unknown>, ['percent', 'minPerSecond', 'ttlMs'])
    budget = new RetryBudget({
      percent: optionalNumber(`${path}.budget.percent`, b.percent, 0.2, { min: 0, max: 1 }),
      minPerSecond: optionalNumber(`${path}.budget.minPerSecond`, b.minPerSecond, 10, { min: 0 }),
      ttlMs: optionalNumber(`${path}.budget.ttlMs`, b.ttlMs, 10_000, { min: 1_000, max: 60_000 }),
    })
  }
  const timeoutMs = optionalNumber(`${path}.timeoutMs`, o.timeoutMs, Number.POSITIVE_INFINITY, {
    min: 0,
    minExclusive: true,
    infinite: true,
  })
  const perTryTimeoutMs = optionalNumber(
    `${path}.perTryTimeoutMs`,
    o.perTryTimeoutMs,
    Number.POSITIVE_INFINITY,
    { min: 0, minExclusive: true, infinite: true },
  )
  const retryAfterMaxMs = optionalNumber(`${path}.retryAfterMaxMs`, o.retryAfterMaxMs, 10_000, { min: 0 })
  if (o.retryOn !== undefined) checkFunction(`${path}.retryOn`, o.retryOn)
  if (o.classify !== undefined) checkFunction(`${path}.classify`, o.classify)
  return Object.freeze({
    configured: options !== undefined,
    retries,
    backoff: Object.freeze({ baseMs, maxMs }),
    budget,
    timeoutMs,
    perTryTimeoutMs,
    retryAfterMaxMs,
    retryOn: o.retryOn,
    classify: o.classify,
  })
}

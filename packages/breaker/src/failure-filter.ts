/**
 * What counts as a failure for a circuit breaker: the outcome's failure kind, its status, its
 * latency, or a caller-supplied predicate. Compiled once from the options; classifying an outcome
 * allocates nothing.
 */
import {
  checkArray,
  checkFunction,
  checkNumber,
  describeValue,
  type FailureKind,
  InvalidOptionError,
  type Outcome,
} from '@fulcrum/core'

/**
 * A status code, or an inclusive `[lo, hi]` range of them.
 *
 * @example
 * ```ts
 * const statuses: StatusMatcher[] = [429, [500, 599]]
 * ```
 */
export type StatusMatcher = number | readonly [lo: number, hi: number]

/**
 * A failure kind a breaker may count: every {@link FailureKind} but `'cancelled'` (the caller gave
 * up) and `'overload'` (nothing reached the backend), which never count.
 *
 * @example
 * ```ts
 * const kinds: CountedFailureKind[] = ['connect', 'reset', 'timeout']
 * ```
 */
export type CountedFailureKind = Exclude<FailureKind, 'cancelled' | 'overload'>

/**
 * Decides whether an attempt failed; it overrides `failureKinds`, `failureStatuses` and `slowCallMs`.
 *
 * @example
 * ```ts
 * const isFailure: FailurePredicate = (outcome, latencyMs) => !outcome.ok || latencyMs > 2_000
 * ```
 */
export type FailurePredicate = (outcome: Outcome, latencyMs: number) => boolean

/** @internal The verdict of {@link FailureFilter.classify}. */
export const SUCCESS = 0
/** @internal */
export const FAILURE = 1
/** @internal Neither: a cancelled or overloaded attempt says nothing about the backend. */
export const NEUTRAL = 2
/** @internal */
export type Verdict = typeof SUCCESS | typeof FAILURE | typeof NEUTRAL

/**
 * The failure kinds a breaker counts by default: every kind but `'cancelled'` and `'overload'`.
 *
 * @example
 * ```ts
 * circuitBreaker({ failureKinds: DEFAULT_FAILURE_KINDS.filter((k) => k !== 'status') }) // ignore 5xx
 * ```
 */
export const DEFAULT_FAILURE_KINDS: readonly CountedFailureKind[] = Object.freeze([
  'connect',
  'reset',
  'timeout',
  'protocol',
  'status',
  'error',
])

const KIND_BITS: Readonly<Record<FailureKind, number>> = {
  connect: 1,
  reset: 2,
  timeout: 4,
  protocol: 8,
  status: 16,
  error: 32,
  cancelled: 0,
  overload: 0,
}

/** @internal The options of the filter, unvalidated. */
export interface FailureFilterInput {
  readonly isFailure?: unknown
  readonly failureKinds?: unknown
  readonly failureStatuses?: unknown
  readonly slowCallMs?: unknown
}

/** @internal Classifies outcomes for one breaker. */
export class FailureFilter {
  readonly #predicate: FailurePredicate | undefined
  readonly #kinds: number
  /** Flat `[lo0, hi0, lo1, hi1, …]` inclusive status ranges. */
  readonly #statuses: Float64Array
  readonly #slowCallMs: number

  /** Validates the options under `path` (e.g. `circuitBreaker`). */
  constructor(path: string, o: FailureFilterInput) {
    if (o.isFailure !== undefined) checkFunction(`${path}.isFailure`, o.isFailure)
    this.#predicate = o.isFailure as FailurePredicate | undefined
    this.#kinds = kindMask(`${path}.failureKinds`, o.failureKinds ?? DEFAULT_FAILURE_KINDS)
    this.#statuses = statusRanges(`${path}.failureStatuses`, o.failureStatuses ?? [])
    this.#slowCallMs =
      o.slowCallMs === undefined
        ? Number.POSITIVE_INFINITY
        : checkNumber(`${path}.slowCallMs`, o.slowCallMs, { min: 0, minExclusive: true })
  }

  /**
   * `isFailure` when given (a cancelled or overloaded attempt it does not call a failure stays
   * neutral); else a failure iff the kind is counted, the status is listed, or the call was slow.
   */
  classify(outcome: Outcome, latencyMs: number): Verdict {
    const kind = outcome.ok ? undefined : (outcome.error ?? 'error')
    if (this.#predicate !== undefined) {
      if (this.#predicate(outcome, latencyMs)) return FAILURE
      return kind === 'cancelled' || kind === 'overload' ? NEUTRAL : SUCCESS
    }
    if (kind === 'cancelled' || kind === 'overload') return NEUTRAL
    if (kind !== undefined && (KIND_BITS[kind] & this.#kinds) !== 0) return FAILURE
    if (latencyMs > this.#slowCallMs) return FAILURE
    const status = outcome.status
    if (status !== undefined) {
      const r = this.#statuses
      for (let i = 0; i < r.length; i += 2) if (status >= r[i]! && status <= r[i + 1]!) return FAILURE
    }
    return SUCCESS
  }
}

function kindMask(path: string, value: unknown): number {
  checkArray(path, value)
  let mask = 0
  value.forEach((kind, i) => {
    if (kind === 'cancelled' || kind === 'overload')
      throw new InvalidOptionError(`${path}[${i}]`, `"${kind}" never counts as a backend failure`)
    const bit = typeof kind === 'string' ? KIND_BITS[kind as FailureKind] : undefined
    if (bit === undefined)
      throw new InvalidOptionError(
        `${path}[${i}]`,
        `expected one of ${DEFAULT_FAILURE_KINDS.join(', ')}, got ${describeValue(kind)}`,
      )
    mask |= bit
  })
  return mask
}

function statusRanges(path: string, value: unknown): Float64Array {
  checkArray(path, value)
  const out = new Float64Array(value.length * 2)
  const limits = { min: 100, max: 999, integer: true }
  value.forEach((m, i) => {
    let lo: number
    let hi: number
    if (Array.isArray(m)) {
      if (m.length !== 2)
        throw new InvalidOptionError(
          `${path}[${i}]`,
          `expected a status or a [lo, hi] pair, got ${m.length} items`,
        )
      lo = checkNumber(`${path}[${i}][0]`, m[0], limits)
      hi = checkNumber(`${path}[${i}][1]`, m[1], limits)
      if (hi < lo) throw new InvalidOptionError(`${path}[${i}]`, `range [${lo}, ${hi}] is empty`)
    } else lo = hi = checkNumber(`${path}[${i}]`, m, limits)
    out[2 * i] = lo
    out[2 * i + 1] = hi
  })
  return out
}

import {
  checkArray,
  checkOneOf,
  checkOptions,
  type FailureKind,
  InvalidOptionError,
  type Outcome,
  optionalFunction,
  optionalNumber,
} from '@fulcrum/core'

/**
 * Options of success-rate outlier detection (Envoy `success_rate_*`, gRPC A50).
 *
 * @example
 * ```ts
 * outlierDetection({ successRate: { minHosts: 3, requestVolume: 50, stdevFactor: 1.9 } })
 * ```
 */
export interface SuccessRateOptions {
  /** Fewest hosts with enough requests in an interval for the detector to run. @default 5 */
  readonly minHosts?: number
  /** Requests a host needs in an interval to take part. @default 100 */
  readonly requestVolume?: number
  /** A host is ejected when its success rate is below `mean − stdevFactor × σ`. @default 1.9 */
  readonly stdevFactor?: number
}

/**
 * Options of {@link outlierDetection}. Defaults are Envoy's `outlier_detection` ones, except
 * `ejectionJitterMs` (Envoy: 0).
 *
 * @example
 * ```ts
 * const options: OutlierDetectionOptions = { consecutiveFailures: 3, baseEjectionMs: 10_000, maxEjectionPercent: 20 }
 * ```
 */
export interface OutlierDetectionOptions {
  /** Consecutive failures that eject a backend (Envoy `consecutive_5xx`); 0 disables. @default 5 */
  readonly consecutiveFailures?: number
  /**
   * Which failed outcomes count (`outcome.error`, `'error'` when absent). `'cancelled'` and
   * `'overload'` never count, so they are not allowed here.
   * @default ['connect', 'reset', 'timeout', 'protocol', 'status', 'error']
   */
  readonly failureKinds?: readonly FailureKind[]
  /**
   * Decides what counts as a failure instead of `failureKinds` (e.g. slow successes). Cancelled and
   * overload outcomes are never held against a backend, whatever it says. Must not allocate.
   */
  readonly isFailure?: (outcome: Outcome, latencyMs: number) => boolean
  /** Success-rate detection, run every `intervalMs`; `true` means the defaults. @default off */
  readonly successRate?: SuccessRateOptions | boolean
  /** Period of success-rate detection and of the multiplier decay, in ms. @default 10_000 */
  readonly intervalMs?: number
  /** Ejection time per time ejected, in ms (Envoy `base_ejection_time`). @default 30_000 */
  readonly baseEjectionMs?: number
  /** Longest ejection, in ms (`max(baseEjectionMs, maxEjectionMs)` applies). @default 300_000 */
  readonly maxEjectionMs?: number
  /**
   * Random time added to each ejection, uniform in [0, ejectionJitterMs] whole ms, so that the
   * processes of a fleet that ejected the same host together do not all return it at the same
   * moment. Envoy's `max_ejection_time_jitter` defaults to 0. @default 1_000
   */
  readonly ejectionJitterMs?: number
  /** Most backends ejected at once, in % of the pool; one may always be ejected. @default 10 */
  readonly maxEjectionPercent?: number
  /** A passing active check (`health:check` with `ok`) returns an ejected backend early. @default true */
  readonly unejectOnActiveCheck?: boolean
}

/** @internal Validated success-rate options. */
export interface ResolvedSuccessRate {
  readonly minHosts: number
  readonly requestVolume: number
  readonly stdevFactor: number
}

/** @internal Validated options of {@link outlierDetection}. */
export interface ResolvedOutlierOptions {
  readonly consecutiveFailures: number
  readonly isFailure: (outcome: Outcome, latencyMs: number) => boolean
  readonly successRate: ResolvedSuccessRate | undefined
  readonly intervalMs: number
  readonly baseEjectionMs: number
  readonly maxEjectionMs: number
  readonly ejectionJitterMs: number
  readonly maxEjectionPercent: number
  readonly unejectOnActiveCheck: boolean
}

const P = 'outlierDetection'
const KEYS = [
  'consecutiveFailures',
  'failureKinds',
  'isFailure',
  'successRate',
  'intervalMs',
  'baseEjectionMs',
  'maxEjectionMs',
  'ejectionJitterMs',
  'maxEjectionPercent',
  'unejectOnActiveCheck',
]
const COUNTABLE: readonly FailureKind[] = ['connect', 'reset', 'timeout', 'protocol', 'status', 'error']
const ms = { min: 0, minExclusive: true } as const

/** @internal Validates `options`, throwing `InvalidOptionError` naming the bad path. */
export function resolveOutlierOptions(options: OutlierDetectionOptions | undefined): ResolvedOutlierOptions {
  const o = checkOptions(P, options, KEYS) as OutlierDetectionOptions
  const uneject = o.unejectOnActiveCheck ?? true
  if (typeof uneject !== 'boolean')
    throw new InvalidOptionError(`${P}.unejectOnActiveCheck`, 'expected a boolean')
  return {
    consecutiveFailures: optionalNumber(`${P}.consecutiveFailures`, o.consecutiveFailures, 5, {
      min: 0,
      integer: true,
    }),
    isFailure: optionalFunction(`${P}.isFailure`, o.isFailure, kindsPredicate(o.failureKinds)),
    successRate: resolveSuccessRate(o.successRate),
    intervalMs: optionalNumber(`${P}.intervalMs`, o.intervalMs, 10_000, ms),
    baseEjectionMs: optionalNumber(`${P}.baseEjectionMs`, o.baseEjectionMs, 30_000, ms),
    maxEjectionMs: optionalNumber(`${P}.maxEjectionMs`, o.maxEjectionMs, 300_000, { min: 0 }),
    ejectionJitterMs: optionalNumber(`${P}.ejectionJitterMs`, o.ejectionJitterMs, 1_000, {
      min: 0,
      integer: true,
    }),
    maxEjectionPercent: optionalNumber(`${P}.maxEjectionPercent`, o.maxEjectionPercent, 10, {
      min: 0,
      max: 100,
    }),
    unejectOnActiveCheck: uneject,
  }
}

function resolveSuccessRate(
  value: SuccessRateOptions | boolean | undefined,
): ResolvedSuccessRate | undefined {
  if (value === undefined || value === false) return undefined
  const path = `${P}.successRate`
  const o = (
    value === true ? {} : checkOptions(path, value, ['minHosts', 'requestVolume', 'stdevFactor'])
  ) as SuccessRateOptions
  return {
    minHosts: optionalNumber(`${path}.minHosts`, o.minHosts, 5, { min: 1, integer: true }),
    requestVolume: optionalNumber(`${path}.requestVolume`, o.requestVolume, 100, { min: 1, integer: true }),
    stdevFactor: optionalNumber(`${path}.stdevFactor`, o.stdevFactor, 1.9, { min: 0 }),
  }
}

/** The default failure test: a failed outcome whose kind is listed. */
function kindsPredicate(kinds: readonly FailureKind[] | undefined): (outcome: Outcome) => boolean {
  const list = kinds ?? COUNTABLE
  if (kinds !== undefined) {
    checkArray(`${P}.failureKinds`, kinds)
    kinds.forEach((k, i) => {
      checkOneOf(`${P}.failureKinds[${i}]`, k, COUNTABLE)
    })
  }
  const counts = {
    connect: false,
    reset: false,
    timeout: false,
    protocol: false,
    status: false,
    error: false,
  }
  for (const k of list) counts[k as keyof typeof counts] = true
  return (outcome) => !outcome.ok && counts[(outcome.error ?? 'error') as keyof typeof counts] === true
}

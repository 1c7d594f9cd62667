/**
 * The statistics of one success-rate detection round: the mean and the population standard
 * deviation of the hosts' success rates, and the threshold below which a host is an outlier.
 *
 * @example
 * ```ts
 * const { threshold } = successRateThreshold([1, 1, 1, 1, 0.5], 1.9)
 * ```
 */
export interface SuccessRateStats {
  readonly mean: number
  readonly stdev: number
  /** `mean − stdevFactor × stdev`. */
  readonly threshold: number
}

/**
 * Envoy's success-rate outlier rule (`outlier_detection_impl.cc`, `successRateEjectionThreshold`):
 * a host whose success rate is below `mean − stdevFactor × σ` of the hosts considered is an
 * outlier. Pure; used by {@link outlierDetection} once per interval.
 *
 * @param rates success rates in [0, 1] of the hosts with enough requests (at least one)
 * @param stdevFactor how many standard deviations below the mean an outlier lies (Envoy 1.9)
 * @example
 * ```ts
 * successRateThreshold([0.99, 0.98, 0.99, 0.97, 0.6], 1.9).threshold // ≈ 0.59
 * ```
 */
export function successRateThreshold(rates: ArrayLike<number>, stdevFactor: number): SuccessRateStats {
  const n = rates.length
  let sum = 0
  for (let i = 0; i < n; i++) sum += rates[i]!
  const mean = sum / n
  let squares = 0
  for (let i = 0; i < n; i++) squares += (rates[i]! - mean) ** 2
  const stdev = Math.sqrt(squares / n)
  return { mean, stdev, threshold: mean - stdevFactor * stdev }
}

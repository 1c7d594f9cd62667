import {
  checkArray,
  checkNumber,
  checkObject,
  describeValue,
  InvalidOptionError,
  type Random,
} from '@fulcrum/core'

/**
 * A latency distribution: draws one value in ms (finite, ≥ 0) from a random source. Build one with
 * {@link constant}, {@link uniform}, {@link exponential}, {@link normal}, {@link logNormal} or
 * {@link mixture}, or write your own: any object with a `sample(random)` method will do.
 *
 * @example
 * ```ts
 * const jittery: Distribution = { name: 'jittery', sample: (r) => 10 + r.next() * 2 }
 * ```
 */
export interface Distribution {
  /** A readable description, e.g. `'uniform(5, 15)'`. */
  readonly name?: string
  /** Draws a value in ms; must return a finite number ≥ 0. */
  sample(random: Random): number
}

/**
 * A latency as accepted by `simulate()`: a plain number (constant ms) or a {@link Distribution}.
 *
 * @example
 * ```ts
 * const fast: LatencyInput = 5
 * const jittery: LatencyInput = uniform(5, 15)
 * ```
 */
export type LatencyInput = number | Distribution

/** A uniform draw in (0, 1], safe to take the logarithm of. */
function open01(random: Random): number {
  return 1 - random.next()
}

/**
 * Always the same latency. A plain number passed as a latency means `constant(number)`.
 *
 * @example
 * ```ts
 * constant(10).sample(random) // 10
 * ```
 */
export function constant(ms: number): Distribution {
  checkNumber('constant.ms', ms, { min: 0 })
  return Object.freeze({ name: `constant(${ms})`, sample: () => ms })
}

/**
 * Uniform between `min` and `max` ms: bounded jitter around a typical value.
 *
 * @example
 * ```ts
 * uniform(5, 15) // mean 10 ms, never below 5 or above 15
 * ```
 */
export function uniform(min: number, max: number): Distribution {
  checkNumber('uniform.min', min, { min: 0 })
  checkNumber('uniform.max', max, { min })
  const width = max - min
  return Object.freeze({ name: `uniform(${min}, ${max})`, sample: (r: Random) => min + r.next() * width })
}

/**
 * Exponential with mean `meanMs`: memoryless service times, many short and a long tail (p99 ≈ 4.6 ×
 * the mean).
 *
 * @example
 * ```ts
 * exponential(20) // mean 20 ms, median ≈ 13.9 ms, p99 ≈ 92 ms
 * ```
 */
export function exponential(meanMs: number): Distribution {
  checkNumber('exponential.meanMs', meanMs, { min: 0 })
  return Object.freeze({
    name: `exponential(${meanMs})`,
    sample: (r: Random) => -meanMs * Math.log(open01(r)),
  })
}

/**
 * Normal (Gaussian) with mean `mean` and standard deviation `sd`, clamped at 0: symmetric noise
 * around a typical latency.
 *
 * @example
 * ```ts
 * normal(50, 5) // 95 % of samples within 40–60 ms
 * ```
 */
export function normal(mean: number, sd: number): Distribution {
  checkNumber('normal.mean', mean, { min: 0 })
  checkNumber('normal.sd', sd, { min: 0 })
  return Object.freeze({
    name: `normal(${mean}, ${sd})`,
    sample: (r: Random) => Math.max(0, mean + sd * gaussian(r)),
  })
}

/**
 * Log-normal with median `medianMs` and shape `sigma` (the standard deviation of the logarithm): the
 * classic shape of real service latencies, skewed with a heavy tail (p99 ≈ median × e^(2.33·sigma)).
 *
 * @example
 * ```ts
 * logNormal(10, 0.5) // median 10 ms, p99 ≈ 32 ms
 * ```
 */
export function logNormal(medianMs: number, sigma: number): Distribution {
  checkNumber('logNormal.medianMs', medianMs, { min: 0 })
  checkNumber('logNormal.sigma', sigma, { min: 0 })
  return Object.freeze({
    name: `logNormal(${medianMs}, ${sigma})`,
    sample: (r: Random) => medianMs * Math.exp(sigma * gaussian(r)),
  })
}

/**
 * One component of a {@link mixture}.
 *
 * @example
 * ```ts
 * const stall: MixtureComponent = { weight: 1, latency: exponential(500) }
 * ```
 */
export interface MixtureComponent {
  /** Relative weight, > 0 (weights need not sum to 1). */
  readonly weight: number
  /** The component's latency. */
  readonly latency: LatencyInput
}

/**
 * A weighted mix of latencies, for bimodal behaviour such as "99 % fast, 1 % stalls" (what hedging
 * and outlier detection are for).
 *
 * @example
 * ```ts
 * mixture([{ weight: 99, latency: 10 }, { weight: 1, latency: exponential(500) }])
 * ```
 */
export function mixture(components: readonly MixtureComponent[]): Distribution {
  checkArray('mixture', components)
  if (components.length === 0) throw new InvalidOptionError('mixture', 'expected at least one component')
  const parts: Distribution[] = []
  const cumulative: number[] = []
  let total = 0
  components.forEach((c, i) => {
    checkObject(`mixture[${i}]`, c)
    total += checkNumber(`mixture[${i}].weight`, c.weight, { min: 0, minExclusive: true })
    cumulative.push(total)
    parts.push(toDistribution(c.latency, `mixture[${i}].latency`))
  })
  const name = `mixture(${components.map((c, i) => `${c.weight}: ${parts[i]!.name ?? 'custom'}`).join(', ')})`
  return Object.freeze({
    name,
    sample(r: Random): number {
      const u = r.next() * total
      let i = 0
      while (i < cumulative.length - 1 && cumulative[i]! <= u) i++
      return parts[i]!.sample(r)
    },
  })
}

/**
 * Turns a {@link LatencyInput} into a {@link Distribution}: a number becomes {@link constant}, a
 * distribution is returned as is. Throws `InvalidOptionError` naming `path` for anything else.
 *
 * @param path the option path for errors. @default 'latency'
 * @example
 * ```ts
 * toDistribution(10).sample(random) // 10
 * ```
 */
export function toDistribution(input: LatencyInput, path = 'latency'): Distribution {
  if (typeof input === 'number') {
    checkNumber(path, input, { min: 0 })
    return constant(input)
  }
  if (typeof input !== 'object' || input === null || typeof input.sample !== 'function')
    throw new InvalidOptionError(
      path,
      `expected a number of ms or a distribution with sample(random), got ${describeValue(input)}`,
    )
  return input
}

/** A standard normal draw (Box–Muller; one of the pair is discarded to keep samples stateless). */
function gaussian(r: Random): number {
  const u1 = open01(r)
  const u2 = r.next()
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
}

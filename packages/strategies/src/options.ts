import { InvalidOptionError } from '@fulcrum/core'

/**
 * @internal Option checks for the strategy factories, in the style of core's (internal) validators.
 * Each throws core's {@link InvalidOptionError} naming the option path, e.g. `strategy.defaultRttMs`.
 */

/** Limits of {@link checkNumber}. */
export interface NumberLimits {
  readonly min?: number
  readonly max?: number
  readonly integer?: boolean
  readonly minExclusive?: boolean
}

/** A short description of a bad value for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  if (Array.isArray(value)) return 'an array'
  return `a ${typeof value}`
}

/** Throws unless `value` is a plain (non-array, non-null) object. */
export function checkObject(path: string, value: unknown): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidOptionError(path, `expected an object, got ${describeValue(value)}`)
}

/** Throws on the first own key of `value` that is not in `allowed`. */
export function checkKeys(path: string, value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      throw new InvalidOptionError(
        `${path}.${key}`,
        allowed.length === 0
          ? 'unknown option (this strategy takes no options)'
          : `unknown option (expected one of ${allowed.join(', ')})`,
      )
  }
}

/** Checks an options object: an object whose keys are all in `allowed`. */
export function checkOptions(
  path: string,
  value: unknown,
  allowed: readonly string[],
): asserts value is Record<string, unknown> {
  checkObject(path, value)
  checkKeys(path, value, allowed)
}

/** Returns `value` if it is a number within `limits`, else throws. */
export function checkNumber(path: string, value: unknown, limits: NumberLimits = {}): number {
  const {
    min = Number.NEGATIVE_INFINITY,
    max = Number.POSITIVE_INFINITY,
    integer = false,
    minExclusive = false,
  } = limits
  if (typeof value !== 'number' || Number.isNaN(value))
    throw new InvalidOptionError(path, `expected a number, got ${describeValue(value)}`)
  if (integer && !Number.isInteger(value))
    throw new InvalidOptionError(path, `expected an integer, got ${value}`)
  if (minExclusive ? value <= min : value < min)
    throw new InvalidOptionError(path, `expected a number ${minExclusive ? '>' : '≥'} ${min}, got ${value}`)
  if (value > max) throw new InvalidOptionError(path, `expected a number ≤ ${max}, got ${value}`)
  return value
}

/** {@link checkNumber}, or `fallback` when `value` is `undefined`. */
export function optionalNumber(
  path: string,
  value: unknown,
  fallback: number,
  limits?: NumberLimits,
): number {
  return value === undefined ? fallback : checkNumber(path, value, limits)
}

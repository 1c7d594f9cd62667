import { InvalidOptionError } from './errors.js'

/**
 * Option checks shared by every Fulcrum package (strategies, health checks, plugins, proxies), so
 * that every factory rejects bad input the same way: each check throws {@link InvalidOptionError}
 * naming the option's path (`strategy.tableSize`, `retry.backoff.maxMs` …) and saying what was
 * expected and what was given.
 *
 * @example
 * ```ts
 * const o = checkOptions('strategy', options, ['factor'])
 * const factor = optionalNumber('strategy.factor', o.factor, 1.25, { min: 1 })
 * ```
 */

/** Limits of {@link checkNumber}. */
export interface NumberLimits {
  /** Smallest allowed value. @default -Infinity */
  readonly min?: number
  /** Largest allowed value. @default Infinity */
  readonly max?: number
  /** Require an integer. @default false */
  readonly integer?: boolean
  /** `min` itself is not allowed. @default false */
  readonly minExclusive?: boolean
  /** Allow `Infinity` (meaning "no limit"). @default false */
  readonly infinite?: boolean
}

/** A short description of a bad value, for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  if (Array.isArray(value)) return 'an array'
  return `a ${typeof value}`
}

/** Throws unless `value` is a plain object (not null, not an array). */
export function checkObject(path: string, value: unknown): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidOptionError(path, `expected an object, got ${describeValue(value)}`)
}

/** Throws on the first own key of `value` that is not in `allowed` (catches typos like `wieght`). */
export function checkKeys(path: string, value: object, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      throw new InvalidOptionError(
        path === '' ? key : `${path}.${key}`,
        allowed.length === 0
          ? 'unknown option (this takes no options)'
          : `unknown option (expected one of ${allowed.join(', ')})`,
      )
  }
}

/** Checks an options object that may be omitted: `undefined` → `{}`, else an object with only `allowed` keys. */
export function checkOptions(
  path: string,
  value: unknown,
  allowed: readonly string[],
): Readonly<Record<string, unknown>> {
  if (value === undefined) return {}
  checkObject(path, value)
  checkKeys(path, value, allowed)
  return value
}

/** Returns `value` if it is a number within `limits`, else throws. */
export function checkNumber(path: string, value: unknown, limits: NumberLimits = {}): number {
  const { min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY } = limits
  if (typeof value !== 'number' || Number.isNaN(value))
    throw new InvalidOptionError(path, `expected a number, got ${describeValue(value)}`)
  if (!limits.infinite && !Number.isFinite(value))
    throw new InvalidOptionError(path, `expected a finite number, got ${value}`)
  if (limits.integer && !Number.isInteger(value) && Number.isFinite(value))
    throw new InvalidOptionError(path, `expected an integer, got ${value}`)
  if (limits.minExclusive ? value <= min : value < min)
    throw new InvalidOptionError(
      path,
      `expected a number ${limits.minExclusive ? '>' : '≥'} ${min}, got ${value}`,
    )
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

/** Throws unless `value` is a function. */
export function checkFunction(path: string, value: unknown): void {
  if (typeof value !== 'function')
    throw new InvalidOptionError(path, `expected a function, got ${describeValue(value)}`)
}

/** `fallback` when `value` is `undefined`, else `value` checked to be a function. */
export function optionalFunction<F>(path: string, value: unknown, fallback: F): F {
  if (value === undefined) return fallback
  checkFunction(path, value)
  return value as F
}

/** Returns `value` if it is a string (non-empty unless `nonEmpty: false`), else throws. */
export function checkString(path: string, value: unknown, { nonEmpty = true } = {}): string {
  if (typeof value !== 'string')
    throw new InvalidOptionError(path, `expected a string, got ${describeValue(value)}`)
  if (nonEmpty && value.length === 0) throw new InvalidOptionError(path, 'expected a non-empty string')
  return value
}

/** Returns `value` if it is one of `allowed`, else throws. */
export function checkOneOf<T extends string>(path: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T))
    throw new InvalidOptionError(path, `expected one of ${allowed.join(', ')}, got ${describeValue(value)}`)
  return value as T
}

/** Throws unless `value` is an array. */
export function checkArray(path: string, value: unknown): asserts value is readonly unknown[] {
  if (!Array.isArray(value))
    throw new InvalidOptionError(path, `expected an array, got ${describeValue(value)}`)
}

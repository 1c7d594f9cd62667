import { InvalidOptionError } from '@fulcrum/core'

/** @internal Option checks of this package; each throws core's `InvalidOptionError` naming `path`. */

/** A short description of a bad value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  if (Array.isArray(value)) return 'an array'
  return `a ${typeof value}`
}

/** Limits of {@link checkNumber}. */
export interface NumberLimits {
  readonly min?: number
  readonly max?: number
  readonly integer?: boolean
  readonly minExclusive?: boolean
  /** Allow `Infinity` (never allowed by default). */
  readonly infinite?: boolean
}

export function checkNumber(path: string, value: unknown, limits: NumberLimits = {}): number {
  const { min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY } = limits
  if (typeof value !== 'number' || Number.isNaN(value))
    throw new InvalidOptionError(path, `expected a number, got ${describe(value)}`)
  if (!limits.infinite && !Number.isFinite(value))
    throw new InvalidOptionError(path, `expected a finite number, got ${value}`)
  if (limits.integer && !Number.isInteger(value))
    throw new InvalidOptionError(path, `expected an integer, got ${value}`)
  if (limits.minExclusive ? value <= min : value < min)
    throw new InvalidOptionError(
      path,
      `expected a number ${limits.minExclusive ? '>' : '≥'} ${min}, got ${value}`,
    )
  if (value > max) throw new InvalidOptionError(path, `expected a number ≤ ${max}, got ${value}`)
  return value
}

export function optionalNumber(
  path: string,
  value: unknown,
  fallback: number,
  limits?: NumberLimits,
): number {
  return value === undefined ? fallback : checkNumber(path, value, limits)
}

export function checkObject(path: string, value: unknown): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidOptionError(path, `expected an object, got ${describe(value)}`)
}

export function checkKeys(path: string, value: object, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      throw new InvalidOptionError(
        path === '' ? key : `${path}.${key}`,
        `unknown option (expected one of ${allowed.join(', ')})`,
      )
  }
}

export function checkArray(path: string, value: unknown): asserts value is readonly unknown[] {
  if (!Array.isArray(value)) throw new InvalidOptionError(path, `expected an array, got ${describe(value)}`)
}

export function checkFunction(path: string, value: unknown): void {
  if (typeof value !== 'function')
    throw new InvalidOptionError(path, `expected a function, got ${describe(value)}`)
}

export function checkString(path: string, value: unknown): string {
  if (typeof value !== 'string')
    throw new InvalidOptionError(path, `expected a string, got ${describe(value)}`)
  if (value.length === 0) throw new InvalidOptionError(path, 'expected a non-empty string')
  return value
}

export function checkTrue(path: string, value: unknown): void {
  if (value !== true) throw new InvalidOptionError(path, `expected true, got ${describe(value)}`)
}

import { InvalidOptionError } from './errors.js'

/** @internal Shared option checks; each throws {@link InvalidOptionError} naming `path`. */

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  if (Array.isArray(value)) return 'an array'
  return `a ${typeof value}`
}

export function checkObject(path: string, value: unknown): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidOptionError(path, `expected an object, got ${describe(value)}`)
}

export function checkKeys(path: string, value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      throw new InvalidOptionError(
        path === '' ? key : `${path}.${key}`,
        `unknown option (expected one of ${allowed.join(', ')})`,
      )
  }
}

export function checkNumber(
  path: string,
  value: unknown,
  {
    min = Number.NEGATIVE_INFINITY,
    max = Number.POSITIVE_INFINITY,
    integer = false,
    minExclusive = false,
  } = {},
): number {
  if (typeof value !== 'number' || Number.isNaN(value))
    throw new InvalidOptionError(path, `expected a number, got ${describe(value)}`)
  if (integer && !Number.isInteger(value))
    throw new InvalidOptionError(path, `expected an integer, got ${value}`)
  if (minExclusive ? value <= min : value < min)
    throw new InvalidOptionError(path, `expected a number ${minExclusive ? '>' : '≥'} ${min}, got ${value}`)
  if (value > max) throw new InvalidOptionError(path, `expected a number ≤ ${max}, got ${value}`)
  return value
}

export function optionalNumber(
  path: string,
  value: unknown,
  fallback: number,
  limits?: Parameters<typeof checkNumber>[2],
): number {
  return value === undefined ? fallback : checkNumber(path, value, limits)
}

export function checkFunction(path: string, value: unknown): void {
  if (typeof value !== 'function')
    throw new InvalidOptionError(path, `expected a function, got ${describe(value)}`)
}

export function checkString(path: string, value: unknown, { nonEmpty = true } = {}): string {
  if (typeof value !== 'string')
    throw new InvalidOptionError(path, `expected a string, got ${describe(value)}`)
  if (nonEmpty && value.length === 0) throw new InvalidOptionError(path, 'expected a non-empty string')
  return value
}

export function checkOneOf<T extends string>(path: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T))
    throw new InvalidOptionError(path, `expected one of ${allowed.join(', ')}, got ${describe(value)}`)
  return value as T
}

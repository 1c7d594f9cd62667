/**
 * @internal Option checks of the hashing strategies: the package's shared checks (`../options.ts`)
 * plus those only these strategies need (functions, nested strategies, primes). Each throws core's
 * `InvalidOptionError` naming the option's path (`strategy.tableSize` …).
 */
import { InvalidOptionError, type Strategy } from '@fulcrum/core'
import { checkOptions as checkOptionsObject, describeValue } from '../options.js'

export { optionalNumber } from '../options.js'

/**
 * Checks that `value` is `undefined` or a plain object holding only `allowed` keys; returns it (an
 * empty object for `undefined`) as a record for the per-option checks.
 */
export function checkOptions(
  path: string,
  value: unknown,
  allowed: readonly string[],
): Readonly<Record<string, unknown>> {
  if (value === undefined) return {}
  checkOptionsObject(path, value, allowed)
  return value
}

/** Checks that `value` is a function. */
export function checkFunction(path: string, value: unknown): void {
  if (typeof value !== 'function')
    throw new InvalidOptionError(path, `expected a function, got ${describeValue(value)}`)
}

/** Returns `fallback` when `value` is `undefined`, else checks that it is a function. */
export function optionalFunction<F>(path: string, value: unknown, fallback: F): F {
  if (value === undefined) return fallback
  checkFunction(path, value)
  return value as F
}

/** Checks that `value` is a non-empty string. */
export function checkString(path: string, value: unknown): string {
  if (typeof value !== 'string')
    throw new InvalidOptionError(path, `expected a string, got ${describeValue(value)}`)
  if (value.length === 0) throw new InvalidOptionError(path, 'expected a non-empty string')
  return value
}

/** Checks that `value` looks like a {@link Strategy}: an object with a string `name` and a `build()`. */
export function checkStrategy<Ctx>(path: string, value: unknown): Strategy<Ctx> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidOptionError(path, `expected a strategy, got ${describeValue(value)}`)
  const v = value as Record<string, unknown>
  checkString(`${path}.name`, v.name)
  checkFunction(`${path}.build`, v.build)
  return value as Strategy<Ctx>
}

/** Returns `undefined` when `value` is `undefined`, else checks it with {@link checkStrategy}. */
export function optionalStrategy<Ctx>(path: string, value: unknown): Strategy<Ctx> | undefined {
  return value === undefined ? undefined : checkStrategy<Ctx>(path, value)
}

/** True when `n` is a prime (trial division; fine for `n` up to a few million). */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false
  if (n % 2 === 0) return n === 2
  if (n % 3 === 0) return n === 3
  for (let d = 5; d * d <= n; d += 6) if (n % d === 0 || n % (d + 2) === 0) return false
  return true
}

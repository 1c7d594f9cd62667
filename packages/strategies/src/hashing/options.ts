/**
 * @internal Option checks only the hashing strategies need (nested strategies, primes); the common
 * ones come from `@fulcrum/core`. Each throws core's `InvalidOptionError` naming the option's path.
 */
import { checkFunction, checkString, describeValue, InvalidOptionError, type Strategy } from '@fulcrum/core'

export { checkFunction, checkOptions, checkString, optionalFunction, optionalNumber } from '@fulcrum/core'

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

import type { Random } from '../random.js'

/** Options of {@link fullJitterBackoff}. */
export interface BackoffOptions {
  /** First retry's upper bound, in ms. @default 25 */
  readonly baseMs?: number
  /** Upper bound of any delay, in ms. @default 250 */
  readonly maxMs?: number
}

/**
 * Full-jitter exponential backoff (Envoy, AWS): the delay before retry `n` (1-based) is uniform in
 * `[0, min(maxMs, baseMs × 2^(n-1)))`. Spreads retries of many clients so they never arrive in lockstep.
 *
 * @example
 * ```ts
 * const delay = fullJitterBackoff(2, mathRandom) // somewhere in [0, 50) ms
 * ```
 */
export function fullJitterBackoff(retry: number, random: Random, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 25
  const max = options.maxMs ?? 250
  const ceiling = Math.min(max, base * 2 ** Math.max(0, retry - 1))
  return random.next() * ceiling
}

/**
 * A jittered exponential delay that grows from `minMs` to `maxMs` (Finagle `Backoff.equalJittered`):
 * half of the step is fixed, half random, so the delay never drops to zero. Used for circuit-breaker
 * and ejection backoffs.
 *
 * @param step 0-based step number
 */
export function equalJitterBackoff(step: number, minMs: number, maxMs: number, random: Random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.max(0, step))
  return ceiling / 2 + random.next() * (ceiling / 2)
}

/**
 * The randomness source every chance-dependent part of Fulcrum reads (P2C sampling, jitter, tie
 * breaks). Inject `@fulcrum/testing`'s `seededRandom()` for reproducible tests.
 */

/**
 * A source of uniform random numbers.
 *
 * @example
 * ```ts
 * const random: Random = { next: Math.random }
 * ```
 */
export interface Random {
  /** A uniform number in [0, 1). */
  next(): number
}

/** `Math.random()` as a {@link Random}. Node 20 allocates a heap number per call; the default is `fastRandom()`. */
export const mathRandom: Random = Object.freeze({ next: Math.random })

/** A uniform integer in [0, n). `n` must be a positive integer. */
export function randomInt(random: Random, n: number): number {
  return Math.floor(random.next() * n)
}

import { InvalidOptionError, type Random, Sfc32Random } from '@fulcrum/core'

/**
 * What {@link seededRandom} accepts as a seed: a finite number or any string.
 *
 * @example
 * ```ts
 * const seed: Seed = process.env.SEED ?? 42
 * ```
 */
export type Seed = number | string

/**
 * A reproducible {@link Random}: the same seed always yields the same sequence, on every platform.
 * Returned by {@link seededRandom}; pass it wherever core takes a `Random`.
 *
 * @example
 * ```ts
 * const random: SeededRandom = seededRandom('test-1')
 * const dice = random.int(6) + 1
 * ```
 */
export interface SeededRandom extends Random {
  /** The seed this generator was created from (for forks: the parent's seed and the labels). */
  readonly seed: string
  /** A uniform number in [0, 1) with 32 bits of randomness. */
  next(): number
  /** A uniform 32-bit unsigned integer. */
  uint32(): number
  /**
   * A uniform integer in [0, n), without modulo bias. `n` must be an integer in [1, 2^32];
   * throws `RangeError` otherwise.
   */
  int(n: number): number
  /**
   * An independent generator derived from this one's seed and `label`. It depends only on the seed
   * and the label, never on how many numbers this generator has drawn, so adding draws to one part
   * of a test does not shift the numbers another part sees.
   */
  fork(label: string): SeededRandom
}

/** Murmur3's 32-bit finaliser: spreads every input bit over the whole word. */
function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** One 32-bit lane of a string hash: FNV-style multiply-xor per UTF-16 unit, then fmix32. */
function hashLane(s: string, lane: number): number {
  let h = fmix32(0x9e3779b9 + Math.imul(lane, 0x7f4a7c15))
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193 + 2 * lane)
  return fmix32(h ^ s.length)
}

/** splitmix32 step: turns a counter into a well-mixed word (used to expand the seed into state). */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad)
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97)
  return (z ^ (z >>> 15)) >>> 0
}

const TWO_POW_32 = 4_294_967_296

/** sfc32 (Chris Doty-Humphrey's Small Fast Chaotic PRNG): 128-bit state, passes PractRand and BigCrush. */
class Sfc32 extends Sfc32Random implements SeededRandom {
  readonly seed: string

  constructor(seed: string) {
    // Four independent 32-bit hash lanes of the seed string (128 bits), each run through splitmix32;
    // `d` is sfc32's counter, so the state can never get stuck at zero.
    super(
      splitmix32(hashLane(seed, 0)),
      splitmix32(hashLane(seed, 1)),
      splitmix32(hashLane(seed, 2)),
      splitmix32(hashLane(seed, 3)),
    )
    this.seed = seed
  }

  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32)
      throw new RangeError(`int(n): n must be an integer in [1, 2^32], got ${n}`)
    // Lemire-style rejection: drop the lowest (2^32 mod n) values so every residue is equally likely.
    const threshold = (TWO_POW_32 - n) % n
    for (let i = 0; i < 64; i++) {
      const x = this.uint32()
      if (x >= threshold) return x % n
    }
    return this.uint32() % n // unreachable in practice: 64 rejections in a row has probability < 2^-64
  }

  fork(label: string): SeededRandom {
    if (typeof label !== 'string') throw new InvalidOptionError('label', 'expected a string')
    return new Sfc32(`${this.seed}/${label}`)
  }
}

/**
 * A fast, seeded pseudo-random generator (sfc32, seeded by hashing the seed) to inject with
 * `createBalancer().random(seededRandom(42))`, so P2C sampling, jitter and tie breaks repeat
 * exactly from run to run. Numbers and strings make distinct seeds (`42` ≠ `'42'`). Not for
 * cryptography.
 *
 * @param seed a finite number or a string
 * @example
 * ```ts
 * const random = seededRandom(42)
 * const lb = createBalancer().random(random.fork('balancer')).backends(urls).build()
 * const jitter = random.fork('jitter').int(100) // same value on every run
 * ```
 */
export function seededRandom(seed: Seed): SeededRandom {
  if (typeof seed === 'number') {
    if (!Number.isFinite(seed)) throw new InvalidOptionError('seed', `expected a finite number, got ${seed}`)
    return new Sfc32(`n:${Object.is(seed, -0) ? 0 : seed}`)
  }
  if (typeof seed === 'string') return new Sfc32(`s:${seed}`)
  throw new InvalidOptionError('seed', `expected a number or a string, got ${typeof seed}`)
}

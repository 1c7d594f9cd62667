import { getRandomValues } from 'node:crypto'
import type { Random } from './random.js'

const TWO_POW_32 = 4_294_967_296

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Chaotic generator): 128 bits of state, 32-bit output,
 * plain integer arithmetic. Unlike `Math.random()`, whose every result Node 20 boxes on the heap,
 * `next()` allocates nothing once optimised, which keeps P2C and random picks allocation-free.
 * Not for cryptography.
 *
 * @example
 * ```ts
 * const r = new Sfc32Random(1, 2, 3, 4)
 * r.next() // the same sequence for the same four seeds
 * ```
 */
export class Sfc32Random implements Random {
  #a: number
  #b: number
  #c: number
  #d: number

  /** Seeds the four state words (any 32-bit integers); the first outputs are discarded. */
  constructor(a: number, b: number, c: number, d: number) {
    this.#a = a | 0
    this.#b = b | 0
    this.#c = c | 0
    this.#d = d | 0
    for (let i = 0; i < 12; i++) this.uint32()
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    const a = this.#a
    const b = this.#b
    const c = this.#c
    const d = this.#d
    const t = (((a + b) | 0) + d) | 0
    this.#d = (d + 1) | 0
    this.#a = b ^ (b >>> 9)
    this.#b = (c + (c << 3)) | 0
    this.#c = (((c << 21) | (c >>> 11)) + t) | 0
    return t >>> 0
  }

  /** A uniform number in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.uint32() / TWO_POW_32
  }
}

/**
 * A new {@link Sfc32Random} seeded from the operating system's entropy: the default random source
 * of every balancer (`createBalancer().random(…)` overrides it; inject a seeded one in tests).
 */
export function fastRandom(): Sfc32Random {
  const s = getRandomValues(new Uint32Array(4))
  return new Sfc32Random(s[0]!, s[1]!, s[2]!, s[3]!)
}

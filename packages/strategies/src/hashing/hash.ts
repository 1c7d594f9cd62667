/**
 * Fast, allocation-free 32-bit hashes for the hashing strategies. Every function here is pure and
 * deterministic across runs, processes and platforms: a key maps to the same backend on every
 * instance of an application, which is what makes several independent balancers agree.
 */

const C1 = 0xcc9e2d51
const C2 = 0x1b873593
const TWO_POW_32 = 4294967296

/**
 * MurmurHash3 (x86, 32-bit) of a string's UTF-16 code units, read as little-endian bytes: two code
 * units form one 32-bit block, so a string of length n hashes 2n bytes. Reads the string with
 * `charCodeAt` and allocates nothing. The result is an unsigned 32-bit integer.
 *
 * Choose it to hash routing keys and backend ids; it is not a cryptographic hash, so do not use it
 * where an attacker choosing keys could hurt you (they can at most pile keys onto one backend).
 *
 * @param seed any 32-bit integer; different seeds give independent hash functions. @default 0
 * @example
 * ```ts
 * murmur3('user-42') // the same number on every run
 * murmur3('user-42', 1) // an independent second hash
 * ```
 */
export function murmur3(str: string, seed = 0): number {
  const len = str.length
  const blocks = len & ~1
  let h = seed | 0
  for (let i = 0; i < blocks; i += 2) {
    let k = (str.charCodeAt(i) & 0xffff) | ((str.charCodeAt(i + 1) & 0xffff) << 16)
    k = Math.imul(k, C1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, C2)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  if (blocks !== len) {
    let k = str.charCodeAt(blocks) & 0xffff
    k = Math.imul(k, C1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, C2)
    h ^= k
  }
  h ^= len * 2
  return fmix32(h)
}

/**
 * The MurmurHash3 finaliser: a bijective 32-bit mixer with full avalanche (each input bit flips
 * each output bit with probability ≈ ½). Returns an unsigned 32-bit integer.
 *
 * Choose it to scramble an integer that is already unique but poorly distributed (a counter, an
 * attempt number xor-ed into a hash).
 *
 * @example
 * ```ts
 * fmix32(1) !== fmix32(2) // and the two differ in about half their bits
 * ```
 */
export function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * Combines two 32-bit hashes into one well-mixed unsigned 32-bit hash: one MurmurHash3 round of
 * `b` seeded with `a`, then the finaliser of a second round. Order matters
 * (`combine32(a, b) !== combine32(b, a)` in general).
 *
 * Choose it to derive per-(key, backend) values without building a string, as rendezvous hashing
 * does for every backend on every pick.
 *
 * @example
 * ```ts
 * const score = combine32(murmur3(key), murmur3(backend.id))
 * ```
 */
export function combine32(a: number, b: number): number {
  let k = Math.imul(b, C1)
  k = (k << 15) | (k >>> 17)
  k = Math.imul(k, C2)
  let h = a ^ k
  h = (h << 13) | (h >>> 19)
  h = (Math.imul(h, 5) + 0xe6546b64) | 0
  // A second, keyed round: a single round followed by fmix32 leaves h(a, b) and h(a, b') correlated
  // when b ^ b' has few bits set; feeding `a` in again breaks that.
  k = Math.imul(fmix32(h) ^ a, C1)
  k = (k << 15) | (k >>> 17)
  h ^= Math.imul(k, C2)
  return fmix32(h ^ 8)
}

/**
 * Maps an unsigned 32-bit hash to a number strictly inside (0, 1), i.e. `(h + ½) / 2³²`; never 0 or 1,
 * so its logarithm is always finite and negative.
 *
 * @example
 * ```ts
 * const u = unitInterval(combine32(keyHash, backendHash)) // 0 < u < 1
 * ```
 */
export function unitInterval(h: number): number {
  return ((h >>> 0) + 0.5) / TWO_POW_32
}

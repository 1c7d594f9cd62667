import { describe, expect, it } from 'vitest'
import { combine32, fmix32, murmur3, unitInterval } from './hash.js'

/** A byte-oriented reference MurmurHash3 x86_32, written from the specification. */
function referenceMurmur3(bytes: Uint8Array, seed: number): number {
  let h = seed >>> 0
  const n = bytes.length
  const blocks = n - (n % 4)
  const round = (k: number) => {
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    return Math.imul(k, 0x1b873593)
  }
  for (let i = 0; i < blocks; i += 4) {
    const k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)
    h ^= round(k)
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  const tail = n % 4
  if (tail > 0) {
    let k = bytes[blocks]!
    if (tail > 1) k ^= bytes[blocks + 1]! << 8
    if (tail > 2) k ^= bytes[blocks + 2]! << 16
    h ^= round(k)
  }
  h ^= n
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

const utf8 = (s: string) => new TextEncoder().encode(s)
const utf16le = (s: string) => new Uint8Array(Buffer.from(s, 'utf16le'))

describe('murmur3', () => {
  it('the reference implementation matches published MurmurHash3 x86_32 vectors', () => {
    expect(referenceMurmur3(utf8(''), 0)).toBe(0)
    expect(referenceMurmur3(utf8(''), 1)).toBe(0x514e28b7)
    expect(referenceMurmur3(utf8(''), 0xffffffff)).toBe(0x81f16f39)
    expect(referenceMurmur3(new Uint8Array(4), 0)).toBe(0x2362f9de)
    expect(referenceMurmur3(utf8('Hello, world!'), 1234)).toBe(0xfaf6cdb3)
    expect(referenceMurmur3(utf8('The quick brown fox jumps over the lazy dog'), 0)).toBe(0x2e4ff723)
  })

  it('equals MurmurHash3 of the UTF-16LE bytes, for odd and even lengths and any code unit', () => {
    const samples = [
      '',
      'a',
      'ab',
      'abc',
      'user-42',
      'b3-159',
      'ünïcødé',
      '✓ check',
      '😀 emoji',
      '\uffff\u0000',
      'x'.repeat(1001),
    ]
    for (const s of samples)
      for (const seed of [0, 1, 0x9747b28c, -1])
        expect(murmur3(s, seed)).toBe(referenceMurmur3(utf16le(s), seed))
  })

  it('is deterministic across runs (pinned values: changing them remaps every key)', () => {
    expect(murmur3('')).toBe(0)
    expect(murmur3('user-42')).toBe(referenceMurmur3(utf16le('user-42'), 0))
    expect(murmur3('user-42')).toBe(2703341929)
    expect(murmur3('b0-0')).toBe(3999120313)
    expect(murmur3('user-42', 1)).not.toBe(murmur3('user-42'))
  })

  it('spreads sequential keys uniformly over 32 bits (χ² over 64 buckets)', () => {
    const buckets = new Array<number>(64).fill(0)
    const n = 64_000
    for (let i = 0; i < n; i++) buckets[murmur3(`key-${i}`) >>> 26]!++
    const expected = n / 64
    const chi2 = buckets.reduce((s, c) => s + (c - expected) ** 2 / expected, 0)
    expect(chi2).toBeLessThan(130) // p ≈ 1e-6 for 63 degrees of freedom
  })
})

describe('fmix32, combine32, unitInterval', () => {
  it('fmix32 is a bijection-like avalanche mixer', () => {
    expect(fmix32(0)).toBe(0)
    const seen = new Set<number>()
    for (let i = 0; i < 10_000; i++) seen.add(fmix32(i))
    expect(seen.size).toBe(10_000)
    let flips = 0
    for (let i = 0; i < 1000; i++) {
      const x = murmur3(`x${i}`)
      for (let b = 0; b < 32; b++) {
        let d = (fmix32(x) ^ fmix32(x ^ (1 << b))) >>> 0
        while (d) {
          flips += d & 1
          d >>>= 1
        }
      }
    }
    expect(flips / (1000 * 32)).toBeCloseTo(16, 0)
  })

  it('combine32 depends on both inputs and their order, and is uniform for similar inputs', () => {
    expect(combine32(1, 2)).not.toBe(combine32(2, 1))
    expect(combine32(1, 2)).toBe(combine32(1, 2))
    const buckets = new Array<number>(64).fill(0)
    const n = 64_000
    for (let a = 0; a < 1000; a++) for (let b = 0; b < 64; b++) buckets[combine32(a, b) >>> 26]!++
    const expected = n / 64
    const chi2 = buckets.reduce((s, c) => s + (c - expected) ** 2 / expected, 0)
    expect(chi2).toBeLessThan(130)
  })

  it('combine32 of one key with different backends looks independent (HRW winners are uniform)', () => {
    const backends = Array.from({ length: 8 }, (_, i) => murmur3(`b${i}`))
    const wins = new Array<number>(8).fill(0)
    for (let k = 0; k < 40_000; k++) {
      const h = murmur3(`k${k}`)
      let best = 0
      for (let i = 1; i < 8; i++) if (combine32(h, backends[i]!) > combine32(h, backends[best]!)) best = i
      wins[best]!++
    }
    for (const w of wins) expect(w / 5000).toBeCloseTo(1, 1)
  })

  it('unitInterval stays strictly inside (0, 1)', () => {
    expect(unitInterval(0)).toBeGreaterThan(0)
    expect(unitInterval(0xffffffff)).toBeLessThan(1)
    expect(Number.isFinite(Math.log(unitInterval(0xffffffff)))).toBe(true)
    expect(unitInterval(0x80000000)).toBeCloseTo(0.5, 9)
  })
})

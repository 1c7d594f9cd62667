import { InvalidOptionError } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { seededRandom } from './seeded-random.js'

const draw = (seed: number | string, n: number): number[] => {
  const r = seededRandom(seed)
  return Array.from({ length: n }, () => r.next())
}

describe('seededRandom', () => {
  it('repeats the same sequence for the same seed', () => {
    expect(draw(42, 1_000)).toEqual(draw(42, 1_000))
    expect(draw('tenant-a', 100)).toEqual(draw('tenant-a', 100))
    expect(seededRandom(7).seed).toBe(seededRandom(7).seed)
  })

  it('gives different sequences for different seeds, and numbers differ from strings', () => {
    expect(draw(1, 10)).not.toEqual(draw(2, 10))
    expect(draw(42, 10)).not.toEqual(draw('42', 10))
    expect(draw(0, 10)).toEqual(draw(-0, 10))
    expect(draw(0.5, 10)).not.toEqual(draw(0, 10))
  })

  it('is pinned: the sequence never changes between releases', () => {
    const r = seededRandom(42)
    const first = [r.uint32(), r.uint32(), r.uint32()]
    expect(first).toMatchInlineSnapshot(`
      [
        3841324375,
        3553482138,
        2275074738,
      ]
    `)
  })

  it('returns numbers in [0, 1) with 32 bits of resolution', () => {
    const r = seededRandom(3)
    const seen = new Set<number>()
    let bad = 0
    for (let i = 0; i < 100_000; i++) {
      const x = r.next()
      if (!(x >= 0 && x < 1) || !Number.isInteger(x * 2 ** 32)) bad++
      seen.add(x)
    }
    expect(bad).toBe(0)
    expect(seen.size).toBeGreaterThan(99_990) // collisions are ~1 in 2^32 per pair
  })

  it('is roughly uniform (chi-square over 20 bins) with uncorrelated neighbours', () => {
    const r = seededRandom('uniformity')
    const bins = new Array<number>(20).fill(0)
    const n = 200_000
    let prev = r.next()
    let cross = 0
    let sum = 0
    for (let i = 0; i < n; i++) {
      const x = r.next()
      bins[Math.floor(x * 20)]!++
      sum += x
      cross += (x - 0.5) * (prev - 0.5)
      prev = x
    }
    const expected = n / 20
    const chi2 = bins.reduce((acc, o) => acc + (o - expected) ** 2 / expected, 0)
    expect(chi2).toBeLessThan(43.8) // p = 0.001 for 19 degrees of freedom
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.005)
    expect(Math.abs(cross / n) / (1 / 12)).toBeLessThan(0.01) // lag-1 autocorrelation
  })

  it('int(n) is unbiased and in range', () => {
    const r = seededRandom(5)
    const counts = new Array<number>(6).fill(0)
    for (let i = 0; i < 60_000; i++) counts[r.int(6)]!++
    expect(counts.reduce((a, b) => a + b)).toBe(60_000)
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(400)
    expect(r.int(1)).toBe(0)
    expect(r.int(2 ** 32)).toBeLessThan(2 ** 32)
    expect(() => r.int(0)).toThrow(RangeError)
    expect(() => r.int(1.5)).toThrow(RangeError)
    expect(() => r.int(2 ** 32 + 1)).toThrow(RangeError)
  })

  it('fork(label) is independent of the parent position and of other labels', () => {
    const a = seededRandom(9)
    const forkedEarly = a.fork('x')
    for (let i = 0; i < 100; i++) a.next()
    const forkedLate = a.fork('x')
    const seq = (r: { next(): number }) => Array.from({ length: 20 }, () => r.next())
    expect(seq(forkedEarly)).toEqual(seq(forkedLate))
    expect(seq(seededRandom(9).fork('x'))).not.toEqual(seq(seededRandom(9).fork('y')))
    expect(seq(seededRandom(9).fork('x'))).not.toEqual(seq(seededRandom(9)))
    expect(seededRandom(9).fork('x').fork('y').seed).toBe('n:9/x/y')
  })

  it('rejects bad seeds with InvalidOptionError', () => {
    expect(() => seededRandom(Number.NaN)).toThrow(InvalidOptionError)
    expect(() => seededRandom(Number.POSITIVE_INFINITY)).toThrow(/seed/)
    expect(() => seededRandom({} as never)).toThrow(InvalidOptionError)
  })
})

import { InvalidOptionError } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import {
  constant,
  type Distribution,
  exponential,
  logNormal,
  mixture,
  normal,
  toDistribution,
  uniform,
} from './distributions.js'
import { seededRandom } from './seeded-random.js'

const samples = (d: Distribution, n = 50_000, seed = 1): number[] => {
  const r = seededRandom(seed)
  return Array.from({ length: n }, () => d.sample(r)).sort((a, b) => a - b)
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const quantile = (sorted: number[], p: number) => sorted[Math.floor(p * (sorted.length - 1))]!

describe('distributions', () => {
  it('constant() always returns its value', () => {
    const xs = samples(constant(7), 100)
    expect(new Set(xs)).toEqual(new Set([7]))
    expect(constant(7).name).toBe('constant(7)')
  })

  it('uniform() stays in [min, max] with the right mean', () => {
    const xs = samples(uniform(5, 15))
    expect(xs[0]!).toBeGreaterThanOrEqual(5)
    expect(xs.at(-1)!).toBeLessThanOrEqual(15)
    expect(mean(xs)).toBeCloseTo(10, 1)
    expect(samples(uniform(3, 3), 10)).toEqual(new Array(10).fill(3))
  })

  it('exponential() has the right mean and median', () => {
    const xs = samples(exponential(20))
    expect(xs[0]!).toBeGreaterThanOrEqual(0)
    expect(mean(xs)).toBeGreaterThan(19.5)
    expect(mean(xs)).toBeLessThan(20.5)
    expect(quantile(xs, 0.5)).toBeCloseTo(20 * Math.LN2, 0)
  })

  it('normal() has the right mean and spread, clamped at 0', () => {
    const xs = samples(normal(50, 5))
    expect(mean(xs)).toBeCloseTo(50, 0)
    expect(quantile(xs, 0.8413) - quantile(xs, 0.5)).toBeCloseTo(5, 0)
    const clamped = samples(normal(1, 10))
    expect(clamped[0]).toBe(0)
    expect(clamped.filter((x) => x === 0).length / clamped.length).toBeCloseTo(0.46, 1)
  })

  it('logNormal() has the right median and tail', () => {
    const xs = samples(logNormal(10, 0.5))
    expect(xs[0]!).toBeGreaterThan(0)
    expect(quantile(xs, 0.5)).toBeCloseTo(10, 0)
    const p99 = quantile(xs, 0.99)
    expect(p99).toBeGreaterThan(10 * Math.exp(2.326 * 0.5) * 0.95)
    expect(p99).toBeLessThan(10 * Math.exp(2.326 * 0.5) * 1.05)
  })

  it('mixture() draws components in proportion to their weights', () => {
    const d = mixture([
      { weight: 3, latency: 10 },
      { weight: 1, latency: constant(100) },
    ])
    const xs = samples(d, 40_000)
    expect(xs.filter((x) => x === 100).length / xs.length).toBeCloseTo(0.25, 1)
    expect(new Set(xs)).toEqual(new Set([10, 100]))
    expect(d.name).toBe('mixture(3: constant(10), 1: constant(100))')
  })

  it('is reproducible for a seed', () => {
    expect(samples(logNormal(10, 1), 100, 7)).toEqual(samples(logNormal(10, 1), 100, 7))
  })

  it('toDistribution() parses numbers and passes distributions through', () => {
    expect(toDistribution(12).sample(seededRandom(1))).toBe(12)
    const d = uniform(1, 2)
    expect(toDistribution(d)).toBe(d)
    const custom = { sample: () => 3 }
    expect(toDistribution(custom)).toBe(custom)
  })

  it('rejects bad parameters with InvalidOptionError naming them', () => {
    const path = (fn: () => unknown) => {
      try {
        fn()
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidOptionError)
        return (err as InvalidOptionError).path
      }
      return undefined
    }
    expect(path(() => constant(-1))).toBe('constant.ms')
    expect(path(() => uniform(10, 5))).toBe('uniform.max')
    expect(path(() => uniform(Number.NaN, 5))).toBe('uniform.min')
    expect(path(() => exponential(Number.POSITIVE_INFINITY))).toBe('exponential.meanMs')
    expect(path(() => normal(10, -1))).toBe('normal.sd')
    expect(path(() => logNormal(-1, 1))).toBe('logNormal.medianMs')
    expect(path(() => mixture([]))).toBe('mixture')
    expect(path(() => mixture([{ weight: 0, latency: 1 }]))).toBe('mixture[0].weight')
    expect(path(() => mixture([{ weight: 1, latency: 'fast' as never }]))).toBe('mixture[0].latency')
    expect(path(() => toDistribution('10' as never, 'backends[1].latency'))).toBe('backends[1].latency')
    expect(path(() => toDistribution(-5, 'backends[0].latency'))).toBe('backends[0].latency')
    expect(path(() => toDistribution({} as never))).toBe('latency')
  })
})

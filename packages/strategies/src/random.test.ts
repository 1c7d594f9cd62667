import { BackendSet, type Balancer, createBalancer, type Strategy } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { random, weightedRandom } from './random.js'
import { mulberry32 } from './strategies.test-support.js'

/**
 * P(X ≥ x) for X ~ χ²(df): the regularised upper incomplete gamma Q(df/2, x/2), by series below
 * a + 1 and by continued fraction (modified Lentz) above. Γ(df/2) is exact by recurrence.
 */
function chiSquareSurvival(x: number, df: number): number {
  const a = df / 2
  const z = x / 2
  if (z <= 0) return 1
  let gamma = df % 2 === 0 ? 1 : Math.sqrt(Math.PI) // Γ(1) or Γ(1/2)
  for (let k = df % 2 === 0 ? 1 : 0.5; k < a; k++) gamma *= k
  const front = Math.exp(-z + a * Math.log(z)) / gamma
  if (z < a + 1) {
    let term = 1 / a
    let sum = term
    for (let n = 1; n < 1000 && Math.abs(term) > Math.abs(sum) * 1e-15; n++) sum += term *= z / (a + n)
    return 1 - front * sum
  }
  const tiny = 1e-300
  let b = z + 1 - a
  let c = 1 / tiny
  let d = 1 / b
  let h = d
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a)
    b += 2
    d = an * d + b
    if (Math.abs(d) < tiny) d = tiny
    c = b + an / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    const delta = d * c
    h *= delta
    if (Math.abs(delta - 1) < 1e-15) break
  }
  return front * h
}

/** Pearson's χ² goodness of fit of `observed` counts against `expected` proportions. */
function expectFit(observed: readonly number[], shares: readonly number[]): void {
  const n = observed.reduce((s, v) => s + v, 0)
  const total = shares.reduce((s, v) => s + v, 0)
  let stat = 0
  shares.forEach((share, i) => {
    const e = (n * share) / total
    expect(e).toBeGreaterThanOrEqual(500) // the test's power assumption
    stat += (observed[i]! - e) ** 2 / e
  })
  // Fail only when the observation would happen with probability ≤ 1e-6 (gRPC's α).
  expect(chiSquareSurvival(stat, shares.length - 1)).toBeGreaterThan(1e-6)
}

function balancer(strategy: Strategy, weights: readonly number[], seed: number): Balancer {
  return createBalancer()
    .backends(weights.map((weight, i) => ({ id: `b${i}`, url: `http://127.0.0.1:${9001 + i}`, weight })))
    .strategy(strategy)
    .random(mulberry32(seed))
    .build()
}

/** Counts of `n` picks per backend, in declaration order. */
function histogram(lb: Balancer, n: number, tried?: BackendSet): number[] {
  const index = new Map(lb.backends().map((b, i) => [b, i]))
  const out = lb.backends().map(() => 0)
  for (let i = 0; i < n; i++) {
    const lease = lb.pick(undefined, tried)
    out[index.get(lease.backend!)!]!++
    lease.release()
  }
  return out
}

function tried(lb: Balancer, indexes: readonly number[]): BackendSet {
  const set = new BackendSet()
  for (const i of indexes) set.add(lb.backends()[i]!)
  return set
}

describe('χ² helper', () => {
  it('matches the tabled critical values at α = 1e-6', () => {
    const table: [number, number][] = [
      [1, 23.928],
      [2, 27.631],
      [3, 30.664],
      [4, 33.377],
    ]
    for (const [df, x] of table) expect(chiSquareSurvival(x, df)).toBeCloseTo(1e-6, 8)
    expect(chiSquareSurvival(2, 2)).toBeCloseTo(Math.exp(-1), 12)
    expect(chiSquareSurvival(1, 3)).toBeCloseTo(0.8012519569, 8)
  })
})

describe('random', () => {
  it('picks every backend with equal probability, ignoring weights', () => {
    for (const seed of [1, 2, 3])
      expectFit(histogram(balancer(random(), [5, 1, 1, 3], seed), 4000), [1, 1, 1, 1])
  })

  it('picks uniformly among the backends not tried, also when most are tried', () => {
    const lb = balancer(random(), [1, 1, 1, 1], 11)
    expectFit(
      histogram(lb, 3000, tried(lb, [1])).filter((_, i) => i !== 1),
      [1, 1, 1],
    )
    const wide = balancer(
      random(),
      Array.from({ length: 10 }, () => 1),
      12,
    )
    const counts = histogram(wide, 2000, tried(wide, [0, 1, 2, 4, 5, 6, 7, 9]))
    expect(counts.filter((_, i) => i !== 3 && i !== 8).every((c) => c === 0)).toBe(true)
    expectFit([counts[3]!, counts[8]!], [1, 1])
  })
})

describe('weightedRandom', () => {
  it('picks backends in proportion to weight', () => {
    for (const seed of [1, 2, 3])
      expectFit(histogram(balancer(weightedRandom(), [1, 2, 3, 4], seed), 10_000), [1, 2, 3, 4])
  })

  it('handles fractional and very unequal weights', () => {
    expectFit(histogram(balancer(weightedRandom(), [0.25, 0.5, 0.25], 5), 4000), [1, 2, 1])
    expectFit(histogram(balancer(weightedRandom(), [1000, 1, 1], 6), 502_000), [1000, 1, 1])
  })

  it('picks in proportion to weight among the backends not tried, also when most are tried', () => {
    const lb = balancer(weightedRandom(), [1, 2, 3, 4], 21)
    expectFit(histogram(lb, 6000, tried(lb, [3])).slice(0, 3), [1, 2, 3])
    // The heavy backends are tried, so most draws miss and the scan fallback decides.
    const weights = [50, 50, 1, 50, 50, 3, 50, 50]
    const wide = balancer(weightedRandom(), weights, 22)
    const counts = histogram(wide, 4000, tried(wide, [0, 1, 3, 4, 6, 7]))
    expect(counts.filter((_, i) => i !== 2 && i !== 5).every((c) => c === 0)).toBe(true)
    expectFit([counts[2]!, counts[5]!], [1, 3])
  })
})

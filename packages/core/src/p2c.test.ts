import { describe, expect, it } from 'vitest'
import { BackendSet } from './backend-set.js'
import { createBalancer } from './builder.js'
import { p2c } from './p2c.js'
import type { Random } from './random.js'

/** mulberry32: a tiny seeded generator, so shares are reproducible. */
function seeded(seed: number): Random {
  let a = seed >>> 0
  return {
    next() {
      a = (a + 0x6d2b79f5) >>> 0
      let t = a
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    },
  }
}

const ids = ['a', 'b', 'c']
const specs = (weights: number[]) =>
  weights.map((weight, i) => ({ id: ids[i]!, host: '127.0.0.1', port: 9000 + i, weight }))

function shares(lb: ReturnType<typeof build>, picks: number): Record<string, number> {
  const counts: Record<string, number> = {}
  for (let i = 0; i < picks; i++) {
    const lease = lb.pick()
    counts[lease.backend!.id] = (counts[lease.backend!.id] ?? 0) + 1
    lease.release()
  }
  for (const k of Object.keys(counts)) counts[k] = (100 * counts[k]!) / picks
  return counts
}

function build(weights: number[], seed = 7) {
  return createBalancer().backends(specs(weights)).strategy(p2c()).random(seeded(seed)).build()
}

describe('p2c (least request, distinct sampling)', () => {
  it('splits evenly over three idle equal backends (±1 pp over 100 000 picks)', () => {
    const s = shares(build([1, 1, 1]), 100_000)
    for (const id of ids) expect(Math.abs(s[id]! - 100 / 3)).toBeLessThan(1)
  })

  it('never chooses a permanently busy host among three equal backends', () => {
    const lb = build([1, 1, 1])
    const busy = lb.pick() // held for the whole test
    const s = shares(lb, 100_000)
    expect(s[busy.backend!.id]).toBeUndefined()
    for (const id of ids.filter((x) => x !== busy.backend!.id)) expect(Math.abs(s[id]! - 50)).toBeLessThan(1)
  })

  it('gives idle weighted backends traffic in proportion to weight (2:1 → 66.7 / 33.3)', () => {
    const s = shares(build([2, 1]), 100_000)
    expect(Math.abs(s.a! - 66.67)).toBeLessThan(1)
    expect(Math.abs(s.b! - 33.33)).toBeLessThan(1)
  })

  it('weighted: the lower inflight / weight wins (NGINX random two least_conn)', () => {
    const lb = build([2, 1])
    const held = [lb.pick(), lb.pick(), lb.pick(), lb.pick(), lb.pick()]
    for (let i = 0; i < 1_000; i++) {
      const before = lb.backends().map((b) => b.inflight / b.weight)
      const lease = lb.pick()
      const idx = lb.backends().indexOf(lease.backend!)
      expect(before[idx]).toBeLessThanOrEqual(before[1 - idx]!)
      held.push(lease)
      if (held.length > 12) held.shift()!.release()
    }
    // Loaded by weight: the weight-2 backend carries more of the in-flight requests.
    const [a, b] = lb.backends()
    expect(a!.inflight).toBeGreaterThan(b!.inflight)
    for (const l of held) l.release()
  })

  it('skips tried backends and returns undefined only when all are tried', () => {
    for (const weights of [
      [1, 1, 1],
      [3, 1, 1],
    ]) {
      const lb = build(weights)
      const tried = new BackendSet()
      for (let i = 0; i < 3; i++) {
        const lease = lb.pick(undefined, tried)
        expect(tried.has(lease.backend!)).toBe(false)
        tried.add(lease.backend!)
        lease.release()
      }
      expect(() => lb.pick(undefined, tried)).toThrow(/No backend available/)
    }
  })

  it('rejects bad options', () => {
    expect(() => p2c({ bias: -1 })).toThrow(/strategy.bias/)
    expect(() => p2c({ choices: 3 } as never)).toThrow(/strategy.choices/)
  })
})

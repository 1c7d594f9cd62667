import {
  type Backend,
  BackendSet,
  type Balancer,
  createBalancer,
  type Lease,
  NoBackendError,
} from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import {
  assign,
  backends,
  countingFirst,
  expectInvalid,
  KEYS,
  mulberry32 as seeded,
} from '../strategies.test-support.js'
import { boundedLoad } from './bounded-load.js'
import { ringHash } from './ring-hash.js'

const N = 10

/** The documented cap: ceil(factor × (total + 1) × w / Σw), with `total` the in-flight sum. */
function cap(lb: Balancer, b: Backend, factor: number, total: number): number {
  const sumW = lb.pool.eligible.reduce((s, x) => s + x.weight, 0)
  return Math.ceil((factor * (total + 1) * b.weight) / sumW)
}

function totalInflight(lb: Balancer): number {
  return lb.pool.eligible.reduce((s, b) => s + b.inflight, 0)
}

describe('boundedLoad', () => {
  it('behaves like ringHash at low load: same key, same backend', () => {
    const lb = createBalancer().backends(backends(N)).strategy(boundedLoad()).build()
    const ring = createBalancer().backends(backends(N)).strategy(ringHash()).build()
    const first = assign(lb, KEYS.slice(0, 2000))
    expect(assign(lb, KEYS.slice(0, 2000))).toEqual(first)
    expect(assign(ring, KEYS.slice(0, 2000))).toEqual(first)
  })

  it('never lets a hot key push a backend over ceil(factor × (total + 1) × w / Σw)', () => {
    for (const factor of [1, 1.25, 2]) {
      const lb = createBalancer().backends(backends(N)).strategy(boundedLoad({ factor })).build()
      const leases: Lease[] = []
      const home = lb.pick({ key: 'hot' })
      home.release()
      for (let i = 0; i < 500; i++) {
        leases.push(lb.pick({ key: 'hot' }))
        const total = totalInflight(lb)
        for (const b of lb.pool.eligible) {
          // Stronger than the bound with total + 1: the pick itself is counted in `total`.
          expect(b.inflight).toBeLessThanOrEqual(cap(lb, b, factor, total - 1))
          expect(b.inflight).toBeLessThanOrEqual(cap(lb, b, factor, total))
        }
      }
      // The hot key's own backend is full; the excess spilled over to the others.
      expect(home.backend!.inflight).toBe(cap(lb, home.backend!, factor, 499))
      const used = lb.pool.eligible.filter((b) => b.inflight > 0).length
      // Spread over at least N / factor backends (a higher factor keeps more on the first ones).
      expect(used).toBeGreaterThanOrEqual(Math.floor(N / factor))
      console.info(
        `bounded-load factor ${factor}: hot key over ${used} backends, max inflight ${Math.max(...lb.pool.eligible.map((b) => b.inflight))} of 500`,
      )
      const max = Math.max(...lb.pool.eligible.map((b) => b.inflight))
      expect(max / (500 / N)).toBeLessThanOrEqual(factor + 0.05)
      for (const l of leases) l.release()
      expect(totalInflight(lb)).toBe(0)
      expect(lb.pick({ key: 'hot' }).backend).toBe(home.backend)
    }
  })

  it('keeps every pick under its cap in a mixed workload with weights and releases', () => {
    const random = seeded(42)
    const list = backends(N).map((b, i) => ({ ...b, weight: i < 3 ? 3 : 1 }))
    const factor = 1.25
    const lb = createBalancer().backends(list).strategy(boundedLoad({ factor })).random(seeded(1)).build()
    const held: Lease[] = []
    for (let op = 0; op < 20_000; op++) {
      if (held.length > 0 && random.next() < 0.45) {
        held.splice(Math.floor(random.next() * held.length), 1)[0]!.release()
        continue
      }
      // A skewed key population: a few very hot keys and a long tail; some picks without a key.
      const r = random.next()
      const key =
        r < 0.5 ? `hot-${Math.floor(r * 6)}` : r < 0.95 ? `k-${Math.floor(random.next() * 5000)}` : undefined
      const before = totalInflight(lb)
      const lease = lb.pick({ key })
      held.push(lease)
      expect(lease.backend!.inflight).toBeLessThanOrEqual(cap(lb, lease.backend!, factor, before))
    }
    for (const l of held) l.release()
    expect(totalInflight(lb)).toBe(0)
  })

  it('walks on when the key’s backend was tried, and returns the least loaded rather than nothing', () => {
    const lb = createBalancer()
      .backends(backends(3))
      .strategy(boundedLoad({ factor: 1 }))
      .build()
    for (const key of KEYS.slice(0, 100)) {
      const tried = new BackendSet()
      for (let i = 0; i < 3; i++) {
        const lease = lb.pick({ key }, tried)
        expect(tried.has(lease.backend!)).toBe(false)
        tried.add(lease.backend!)
        lease.release()
      }
      expect(() => lb.pick({ key }, tried)).toThrow(NoBackendError)
    }
    // 10 requests on each backend, then those of one backend end: only it is below its cap (7).
    const leases = Array.from({ length: 30 }, () => lb.pick({ key: 'k' }))
    expect(lb.pool.eligible.map((b) => b.inflight)).toEqual([10, 10, 10])
    const idle = lb.pool.eligible[1]!
    for (const l of leases) if (l.backend === idle) l.release()
    expect(lb.pick({ key: 'k' }).backend).toBe(idle)
    // A retry that excludes it finds only backends over their cap: it still gets one of them.
    const tried = new BackendSet()
    tried.add(idle)
    const retry = lb.pick({ key: 'k' }, tried)
    expect(retry.backend).not.toBe(idle)
    for (const l of leases) l.release()
  })

  it('picks a random point without a key, or asks the fallback', () => {
    const lb = createBalancer().backends(backends(N)).strategy(boundedLoad()).random(seeded(5)).build()
    const ids = new Set(Array.from({ length: 2000 }, () => lb.pick().backend!.id))
    expect(ids.size).toBe(N)
    const { strategy: first, calls } = countingFirst()
    const withFallback = createBalancer()
      .backends(backends(3))
      .strategy(boundedLoad({ fallback: first }))
      .build()
    expect(withFallback.pick({}).backend!.id).toBe('b0')
    withFallback.pick({ key: 'k' })
    expect(calls()).toBe(1)
  })

  it('validates its options eagerly; factor must be ≥ 1', () => {
    const bad = (o: unknown, path: string) => expectInvalid(boundedLoad, o, path)
    bad({ factor: 0.99 }, 'strategy.factor')
    bad({ factor: Number.NaN }, 'strategy.factor')
    bad({ factor: '1.5' }, 'strategy.factor')
    bad({ pointsPerWeight: 0 }, 'strategy.pointsPerWeight')
    bad({ balance: 1 }, 'strategy.balance')
    expect(boundedLoad({ factor: 1 }).name).toBe('bounded-load')
    expect(() => createBalancer().strategy(boundedLoad()).build().pick({ key: 'k' })).toThrow(NoBackendError)
  })
})

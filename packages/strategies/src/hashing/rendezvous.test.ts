import { type Backend, BackendSet, createBalancer, NoBackendError } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import {
  assign,
  backends,
  countingFirst,
  expectInvalid,
  expectStableKeys,
  KEYS,
  maxOverMean,
  mulberry32 as seeded,
  shares,
} from '../strategies.test-support.js'
import { rendezvous } from './rendezvous.js'

const N = 10

describe('rendezvous', () => {
  it('sends the same key to the same backend, whatever the insertion order', () => {
    expectStableKeys(() => rendezvous(), N)
  })

  it('balances keys evenly', () => {
    const lb = createBalancer().backends(backends(N)).strategy(rendezvous()).build()
    const ratio = maxOverMean(assign(lb, KEYS))
    console.info(`rendezvous max/mean at N=10: ${ratio.toFixed(3)}`)
    expect(ratio).toBeLessThanOrEqual(1.1)
  })

  it('moves only the removed backend’s keys, about 1/N of them', () => {
    const lb = createBalancer().backends(backends(N)).strategy(rendezvous()).build()
    const before = assign(lb, KEYS)
    lb.remove('b3')
    const after = assign(lb, KEYS)
    let moved = 0
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] === after[i]) continue
      moved++
      expect(before[i]).toBe('b3')
    }
    expect(after).not.toContain('b3')
    const fraction = moved / KEYS.length
    console.info(`rendezvous moved on removal (N=10): ${(fraction * 100).toFixed(2)} %`)
    expect(fraction).toBeGreaterThan(0.85 / N)
    expect(fraction).toBeLessThan(1.15 / N)
  })

  it('moves about 1/(N+1) of the keys on addition, all to the new backend', () => {
    const lb = createBalancer().backends(backends(N)).strategy(rendezvous()).build()
    const before = assign(lb, KEYS)
    lb.add(backends(1, N)[0]!)
    const after = assign(lb, KEYS)
    let moved = 0
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] === after[i]) continue
      moved++
      expect(after[i]).toBe(`b${N}`)
    }
    const fraction = moved / KEYS.length
    console.info(`rendezvous moved on addition (N=10→11): ${(fraction * 100).toFixed(2)} %`)
    expect(fraction).toBeGreaterThan(0.85 / (N + 1))
    expect(fraction).toBeLessThan(1.15 / (N + 1))
  })

  it('gives keys in proportion to weight (2×, and 1:2:3:4), and keeps consistency with weights', () => {
    const list = backends(N).map((b, i) => (i === 0 ? { ...b, weight: 2 } : b))
    const lb = createBalancer().backends(list).strategy(rendezvous()).build()
    const before = assign(lb, KEYS)
    const counts = shares(before)
    const ratio = counts.get('b0')! / ((KEYS.length - counts.get('b0')!) / (N - 1))
    console.info(`rendezvous weight-2 share ratio: ${ratio.toFixed(3)}`)
    expect(ratio).toBeGreaterThan(2 * 0.85)
    expect(ratio).toBeLessThan(2 * 1.15)
    lb.remove('b5')
    const after = assign(lb, KEYS)
    for (let i = 0; i < KEYS.length; i++) if (before[i] !== after[i]) expect(before[i]).toBe('b5')

    const four = createBalancer()
      .backends(backends(4).map((b, i) => ({ ...b, weight: i + 1 })))
      .strategy(rendezvous())
      .build()
    const c = shares(assign(four, KEYS))
    for (let i = 0; i < 4; i++) expect(c.get(`b${i}`)! / KEYS.length).toBeCloseTo((i + 1) / 10, 1)
  })

  it('takes the best untried backend on a retry, in a fixed order per key', () => {
    const lb = createBalancer().backends(backends(N)).strategy(rendezvous()).build()
    for (const key of KEYS.slice(0, 300)) {
      const tried = new BackendSet()
      const order: Backend[] = []
      for (let attempt = 0; attempt < N; attempt++) {
        const lease = lb.pick({ key }, tried)
        expect(tried.has(lease.backend!)).toBe(false)
        order.push(lease.backend!)
        tried.add(lease.backend!)
        lease.release()
      }
      expect(new Set(order).size).toBe(N)
      expect(() => lb.pick({ key }, tried)).toThrow(NoBackendError)
      const again = new BackendSet()
      again.add(order[0]!)
      expect(lb.pick({ key }, again).backend).toBe(order[1])
      // The runner-up is where the key goes when its backend leaves.
      lb.remove(order[0]!.id)
      expect(lb.pick({ key }).backend).toBe(order[1])
      lb.add({ id: order[0]!.id, url: `http://10.0.0.${Number(order[0]!.id.slice(1)) + 1}:80` })
    }
  })

  it('picks by a random hash without a key, or asks the fallback', () => {
    const lb = createBalancer().backends(backends(N)).strategy(rendezvous()).random(seeded(11)).build()
    const ids = Array.from({ length: 5000 }, () => lb.pick().backend!.id)
    expect(shares(ids).size).toBe(N)
    expect(maxOverMean(ids)).toBeLessThan(1.3)
    const { strategy: first, calls } = countingFirst()
    const withFallback = createBalancer()
      .backends(backends(3))
      .strategy(rendezvous({ fallback: first }))
      .build()
    expect(withFallback.pick({}).backend!.id).toBe('b0')
    withFallback.pick({ key: 'k' })
    expect(calls()).toBe(1)
  })

  it('validates its options eagerly', () => {
    const bad = (o: unknown, path: string) => expectInvalid(rendezvous, o, path)
    bad({ seed: 1 }, 'strategy.seed')
    bad({ key: null }, 'strategy.key')
    bad({ fallback: 3 }, 'strategy.fallback')
    bad([], 'strategy')
    expect(rendezvous({}).name).toBe('rendezvous')
    expect(() => createBalancer().strategy(rendezvous()).build().pick({ key: 'k' })).toThrow(NoBackendError)
  })
})

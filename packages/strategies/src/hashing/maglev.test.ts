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
  movedFraction,
  mulberry32 as seeded,
  shares,
} from '../strategies.test-support.js'
import { fillTable, maglev } from './maglev.js'

const N = 10

describe('maglev', () => {
  it('sends the same key to the same backend, whatever the insertion order', () => {
    expectStableKeys(() => maglev(), N)
  })

  it('fills the table evenly and balances keys within 1.1 × the mean', () => {
    const lb = createBalancer().backends(backends(N)).strategy(maglev()).build()
    const table = fillTable(lb.pool.eligible, 65_537)
    const entries = new Array<number>(N).fill(0)
    for (const m of table) entries[m]!++
    expect(Math.max(...entries) - Math.min(...entries)).toBeLessThanOrEqual(1)
    const ratio = maxOverMean(assign(lb, KEYS))
    console.info(`maglev max/mean at N=10: ${ratio.toFixed(3)}`)
    expect(ratio).toBeLessThanOrEqual(1.1)
  })

  it('moves at most 2/N of the keys when one backend is removed, all of the removed one’s', () => {
    const lb = createBalancer().backends(backends(N)).strategy(maglev()).build()
    const before = assign(lb, KEYS)
    lb.remove('b3')
    const after = assign(lb, KEYS)
    for (let i = 0; i < KEYS.length; i++) if (before[i] === 'b3') expect(after[i]).not.toBe('b3')
    const fraction = movedFraction(before, after)
    console.info(`maglev moved on removal (N=10): ${(fraction * 100).toFixed(2)} %`)
    expect(fraction).toBeGreaterThan(0.7 / N)
    expect(fraction).toBeLessThanOrEqual(2 / N)
  })

  it('moves about 1/(N+1) of the keys when one backend is added (at most 2/N)', () => {
    const lb = createBalancer().backends(backends(N)).strategy(maglev()).build()
    const before = assign(lb, KEYS)
    lb.add(backends(1, N)[0]!)
    const after = assign(lb, KEYS)
    const fraction = movedFraction(before, after)
    const toNew = after.filter((id, i) => id !== before[i] && id === `b${N}`).length / KEYS.length
    console.info(
      `maglev moved on addition (N=10→11): ${(fraction * 100).toFixed(2)} % (to the new backend: ${(toNew * 100).toFixed(2)} %)`,
    )
    expect(fraction).toBeGreaterThan(0.7 / (N + 1))
    expect(fraction).toBeLessThanOrEqual(2 / N)
    expect(toNew).toBeGreaterThan(0.8 / (N + 1))
  })

  it('gives a weight-2 backend twice the keys (within 15 %)', () => {
    const list = backends(N).map((b, i) => (i === 0 ? { ...b, weight: 2 } : b))
    const lb = createBalancer().backends(list).strategy(maglev()).build()
    const counts = shares(assign(lb, KEYS))
    const ratio = counts.get('b0')! / ((KEYS.length - counts.get('b0')!) / (N - 1))
    console.info(`maglev weight-2 share ratio: ${ratio.toFixed(3)}`)
    expect(ratio).toBeGreaterThan(2 * 0.85)
    expect(ratio).toBeLessThan(2 * 1.15)
    const table = fillTable(lb.pool.eligible, 65_537)
    const entries = new Array<number>(N).fill(0)
    for (const m of table) entries[m]!++
    expect(entries[0]! / entries[1]!).toBeCloseTo(2, 2)
  })

  it('re-hashes on a retry: a different backend, deterministic for the key', () => {
    const lb = createBalancer().backends(backends(N)).strategy(maglev()).build()
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
    }
  })

  it('spreads retries of many keys over the surviving backends', () => {
    const lb = createBalancer().backends(backends(N)).strategy(maglev()).build()
    const second = KEYS.slice(0, 5000).map((key) => {
      const tried = new BackendSet()
      tried.add(lb.pick({ key }).backend!)
      return lb.pick({ key }, tried).backend!.id
    })
    expect(shares(second).size).toBe(N)
    expect(maxOverMean(second)).toBeLessThan(1.3)
  })

  it('picks a random entry without a key, or asks the fallback', () => {
    const lb = createBalancer().backends(backends(N)).strategy(maglev()).random(seeded(3)).build()
    const ids = Array.from({ length: 5000 }, () => lb.pick().backend!.id)
    expect(shares(ids).size).toBe(N)
    const { strategy: first, calls } = countingFirst()
    const withFallback = createBalancer()
      .backends(backends(3))
      .strategy(maglev({ fallback: first }))
      .build()
    expect(withFallback.pick({}).backend!.id).toBe('b0')
    withFallback.pick({ key: 'k' })
    expect(calls()).toBe(1)
  })

  it('works with small tables and more backends than entries', () => {
    const lb = createBalancer()
      .backends(backends(N))
      .strategy(maglev({ tableSize: 7 }))
      .build()
    const tried = new BackendSet()
    for (let i = 0; i < N; i++) {
      const b = lb.pick({ key: 'k' }, tried).backend!
      expect(tried.has(b)).toBe(false)
      tried.add(b)
    }
    expect(() => lb.pick({ key: 'k' }, tried)).toThrow(NoBackendError)
    expect(() => createBalancer().strategy(maglev()).build().pick({ key: 'k' })).toThrow(NoBackendError)
  })

  it('validates its options eagerly; the table size must be a prime', () => {
    const bad = (o: unknown, path: string) => expectInvalid(maglev, o, path)
    bad({ tableSize: 65_536 }, 'strategy.tableSize')
    bad({ tableSize: 1 }, 'strategy.tableSize')
    bad({ tableSize: 5_000_021 }, 'strategy.tableSize')
    bad({ tableSize: 65_537.5 }, 'strategy.tableSize')
    bad({ size: 3 }, 'strategy.size')
    bad({ key: 1 }, 'strategy.key')
    bad({ fallback: { name: 'x' } }, 'strategy.fallback.build')
    expect(maglev({ tableSize: 5_000_011 }).name).toBe('maglev')
    expect(maglev({ tableSize: 251 }).name).toBe('maglev')
  })
})

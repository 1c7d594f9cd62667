import { type Backend, BackendSet, createBalancer, NoBackendError, type Strategy } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import {
  assign,
  backends,
  expectInvalid,
  expectStableKeys,
  KEYS,
  maxOverMean,
  mulberry32 as seeded,
  shares,
} from '../strategies.test-support.js'
import { murmur3 } from './hash.js'
import { keyFrom } from './keys.js'
import { buildRing, MAX_RING_POINTS, ringHash, ringIndex, sortPoints } from './ring-hash.js'

const N = 10

describe('ringHash', () => {
  it('sends the same key to the same backend, whatever the insertion order', () => {
    expectStableKeys(() => ringHash(), N)
  })

  it('balances keys within 1.3 × the mean at 160 points and N = 10', () => {
    const lb = createBalancer().backends(backends(N)).strategy(ringHash()).build()
    const ratio = maxOverMean(assign(lb, KEYS))
    console.info(`ring-hash max/mean at N=10: ${ratio.toFixed(3)}`)
    expect(ratio).toBeLessThanOrEqual(1.3)
  })

  it('moves only the removed backend’s keys, about 1/N of them', () => {
    const lb = createBalancer().backends(backends(N)).strategy(ringHash()).build()
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
    console.info(`ring-hash moved on removal (N=10): ${(fraction * 100).toFixed(2)} %`)
    expect(fraction).toBeGreaterThan(0.7 / N)
    expect(fraction).toBeLessThan(1.3 / N)
  })

  it('moves about 1/(N+1) of the keys on addition, all to the new backend', () => {
    const lb = createBalancer().backends(backends(N)).strategy(ringHash()).build()
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
    console.info(`ring-hash moved on addition (N=10→11): ${(fraction * 100).toFixed(2)} %`)
    expect(fraction).toBeGreaterThan(0.7 / (N + 1))
    expect(fraction).toBeLessThan(1.3 / (N + 1))
  })

  it('gives a weight-2 backend twice the keys (within 15 %)', () => {
    const list = backends(N).map((b, i) => (i === 0 ? { ...b, weight: 2 } : b))
    const lb = createBalancer().backends(list).strategy(ringHash()).build()
    const counts = shares(assign(lb, KEYS))
    const light = (KEYS.length - counts.get('b0')!) / (N - 1)
    const ratio = counts.get('b0')! / light
    console.info(`ring-hash weight-2 share ratio: ${ratio.toFixed(3)}`)
    expect(ratio).toBeGreaterThan(2 * 0.85)
    expect(ratio).toBeLessThan(2 * 1.15)
  })

  it('walks the ring on a retry: the next distinct backend clockwise, the same every time', () => {
    const lb = createBalancer().backends(backends(N)).strategy(ringHash()).build()
    const ring = buildRing(lb.pool.eligible, 160)
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
      // The expected order: distinct owners clockwise from the key's point.
      const expected: Backend[] = []
      for (
        let p = ringIndex(ring.hashes, murmur3(key));
        expected.length < 2;
        p = (p + 1) % ring.hashes.length
      ) {
        const b = ring.members[ring.owners[p]!]!
        if (!expected.includes(b)) expected.push(b)
      }
      expect(order.slice(0, 2)).toEqual(expected)
      // Deterministic: the same tried set gives the same answer again.
      const again = new BackendSet()
      again.add(order[0]!)
      const lease = lb.pick({ key }, again)
      expect(lease.backend).toBe(order[1])
      lease.release()
    }
  })

  it('picks a random point without a key, from the balancer’s random source', () => {
    const lb = createBalancer().backends(backends(N)).strategy(ringHash()).random(seeded(7)).build()
    const ids = Array.from({ length: 5000 }, () => {
      const lease = lb.pick({})
      lease.release()
      return lease.backend!.id
    })
    expect(shares(ids).size).toBe(N)
    expect(maxOverMean(ids)).toBeLessThan(1.5)
    const again = createBalancer().backends(backends(N)).strategy(ringHash()).random(seeded(7)).build()
    const same = Array.from({ length: 5000 }, () => {
      const lease = again.pick({ key: '' })
      lease.release()
      return lease.backend!.id
    })
    expect(same).toEqual(ids)
  })

  it('uses the fallback strategy for picks without a key', () => {
    const calls: string[] = []
    const last: Strategy = {
      name: 'last',
      build: (snap) => ({
        select: (_ctx, skip) => {
          calls.push('select')
          for (let i = snap.eligible.length - 1; i >= 0; i--)
            if (!skip.has(snap.eligible[i]!)) return snap.eligible[i]
          return undefined
        },
      }),
    }
    const lb = createBalancer()
      .backends(backends(3))
      .strategy(ringHash({ fallback: last }))
      .build()
    expect(lb.pick().backend!.id).toBe('b2')
    expect(calls).toHaveLength(1)
    lb.pick({ key: 'user' })
    expect(calls).toHaveLength(1)
  })

  it('reads the key with a custom extractor', () => {
    const lb = createBalancer<{ user: string }>()
      .backends(backends(N))
      .strategy(ringHash({ key: keyFrom((ctx) => ctx.user) }))
      .build()
    const plain = createBalancer().backends(backends(N)).strategy(ringHash()).build()
    for (const key of KEYS.slice(0, 100)) expect(lb.pick({ user: key }).backend).toBeDefined()
    expect(KEYS.slice(0, 100).map((user) => lb.pick({ user }).backend!.id)).toEqual(
      assign(plain, KEYS.slice(0, 100)),
    )
  })

  it('follows membership changes: empty pool, then added backends, weights, drain', () => {
    const lb = createBalancer().strategy(ringHash()).build()
    expect(() => lb.pick({ key: 'a' })).toThrow(NoBackendError)
    lb.add('10.0.0.1:80')
    expect(lb.pick({ key: 'a' }).backend!.id).toBe('10.0.0.1:80')
    lb.add('10.0.0.2:80')
    const spread = new Set(KEYS.slice(0, 100).map((key) => lb.pick({ key }).backend!.id))
    expect(spread.size).toBe(2)
    lb.drain('10.0.0.1:80')
    for (const key of KEYS.slice(0, 100)) expect(lb.pick({ key }).backend!.id).toBe('10.0.0.2:80')
    lb.enable('10.0.0.1:80')
    lb.setWeight('10.0.0.2:80', 3)
    const heavy = KEYS.slice(0, 2000).filter((key) => lb.pick({ key }).backend!.id === '10.0.0.2:80').length
    expect(heavy / 2000).toBeGreaterThan(0.65)
    expect(heavy / 2000).toBeLessThan(0.85)
  })

  it('builds rings with round(points × w / minW) points, capped in total', () => {
    const lb = createBalancer()
      .backends([
        { id: 'a', url: 'http://10.0.0.1:80', weight: 0.5 },
        { id: 'b', url: 'http://10.0.0.2:80', weight: 1.25 },
      ])
      .build()
    const ring = buildRing(lb.pool.eligible, 160)
    expect([...ring.counts]).toEqual([160, 400])
    expect(ring.hashes.length).toBe(560)
    for (let i = 1; i < ring.hashes.length; i++)
      expect(ring.hashes[i]!).toBeGreaterThanOrEqual(ring.hashes[i - 1]!)
    const huge = createBalancer()
      .backends([
        { id: 'a', url: 'http://10.0.0.1:80', weight: 1 },
        { id: 'b', url: 'http://10.0.0.2:80', weight: 100_000 },
      ])
      .build()
    const capped = buildRing(huge.pool.eligible, 160)
    expect(capped.hashes.length).toBeLessThanOrEqual(MAX_RING_POINTS)
    expect(capped.counts[0]).toBeGreaterThanOrEqual(1)
    expect(capped.counts[1]! / capped.counts[0]!).toBeGreaterThan(90_000)
  })

  it('sorts points by (hash, owner) the same way packed and with a comparator', () => {
    const random = seeded(9)
    const total = 5000
    const hashes = new Uint32Array(total)
    const owners = new Int32Array(total)
    for (let i = 0; i < total; i++) {
      // Few distinct hashes, so that ties (broken by owner) are frequent.
      hashes[i] = i % 7 === 0 ? 0xffffffff : Math.floor(random.next() * 300) * 0x01000193
      owners[i] = Math.floor(random.next() * 37)
    }
    const h2 = hashes.slice()
    const o2 = owners.slice()
    sortPoints(hashes, owners, 37)
    sortPoints(h2, o2, 37, true)
    expect([...hashes]).toEqual([...h2])
    expect([...owners]).toEqual([...o2])
    for (let i = 1; i < total; i++) {
      expect(hashes[i]!).toBeGreaterThanOrEqual(hashes[i - 1]!)
      if (hashes[i] === hashes[i - 1]) expect(owners[i]!).toBeGreaterThanOrEqual(owners[i - 1]!)
    }
  })

  it('validates its options eagerly', () => {
    const bad = (o: unknown, path: string) => expectInvalid(ringHash, o, path)
    bad({ points: 10 }, 'strategy.points')
    bad({ pointsPerWeight: 0 }, 'strategy.pointsPerWeight')
    bad({ pointsPerWeight: 1.5 }, 'strategy.pointsPerWeight')
    bad({ key: 'user' }, 'strategy.key')
    bad({ fallback: {} }, 'strategy.fallback.name')
    bad('x', 'strategy')
    expect(ringHash({ pointsPerWeight: 1 }).name).toBe('ring-hash')
  })
})

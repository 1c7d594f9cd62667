import {
  BackendSet,
  type BalancerControl,
  type Clock,
  createBalancer,
  type HealthCheck,
  InvalidOptionError,
  NoBackendError,
  type PickContext,
  type PoolSnapshot,
  p2c,
  type Strategy,
} from '@fulcrum/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type HttpKeyContext, keyFromCookie } from './keys.js'
import { sticky } from './sticky.js'

const backends = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: `b${i}`, url: `http://10.0.0.${i + 1}:80` }))

/** A deterministic inner strategy: rotates over the eligible backends, counting its picks. */
function rotating<Ctx = PickContext>(): Strategy<Ctx> & { calls: number } {
  let next = 0
  const s = {
    name: 'rotating',
    calls: 0,
    build: (snap: PoolSnapshot) => ({
      select: (_ctx: Ctx, skip: BackendSet) => {
        s.calls++
        const list = snap.eligible
        for (let i = 0; i < list.length; i++) {
          const b = list[next++ % list.length]!
          if (!skip.has(b)) return b
        }
        return undefined
      },
    }),
  }
  return s
}

/** A clock whose time the test sets; timers are never used by sticky(). */
function fakeClock(start = 1000): Clock & { now(): number; t: number } {
  return {
    t: start,
    now() {
      return this.t
    },
    setTimer: () => undefined,
    clearTimer: () => undefined,
  }
}

function setup(options: Parameters<typeof sticky>[1] = {}, n = 3) {
  const inner = rotating()
  const clock = fakeClock()
  let control: BalancerControl | undefined
  const health: HealthCheck = {
    name: 't',
    start(ctl) {
      control = ctl
    },
  }
  const lb = createBalancer()
    .backends(backends(n))
    .strategy(sticky(inner, options))
    .health(health)
    .clock(clock)
    .build()
  const id = (key?: string, tried?: BackendSet) => {
    const lease = lb.pick(key === undefined ? {} : { key }, tried)
    lease.release()
    return lease.backend!.id
  }
  const setHealth = (backendId: string, healthy: boolean) =>
    control!.setHealth(lb.get(backendId)!, 't', healthy, 'down')
  return { lb, inner, clock, id, setHealth }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('sticky', () => {
  it('keeps a key on its first backend while new keys follow the inner strategy', () => {
    const { id, inner } = setup()
    const a = id('alice')
    for (let i = 0; i < 20; i++) expect(id('alice')).toBe(a)
    expect(inner.calls).toBe(1)
    const others = new Set(['bob', 'carol', 'dave'].map((k) => id(k)))
    expect(others.size).toBe(3)
    expect(inner.calls).toBe(4)
    expect(id()).toBeDefined()
    expect(id()).toBeDefined()
    expect(inner.calls).toBe(6) // no key: always the inner strategy
  })

  it('moves a key when its backend turns unhealthy, is disabled or removed, and stays moved', () => {
    const { lb, id, setHealth } = setup()
    const a = id('alice')
    setHealth(a, false)
    const b = id('alice')
    expect(b).not.toBe(a)
    setHealth(a, true)
    expect(id('alice')).toBe(b) // the new choice was remembered
    lb.disable(b)
    const c = id('alice')
    expect(c).not.toBe(b)
    lb.remove(c)
    const d = id('alice')
    expect(d).not.toBe(c)
    expect(lb.get(d)).toBeDefined()
  })

  it('keeps a draining or weight-0 backend’s keys, but gives it no new keys', () => {
    const { lb, id } = setup()
    const a = id('alice')
    lb.drain(a)
    for (let i = 0; i < 10; i++) expect(id('alice')).toBe(a)
    for (let i = 0; i < 30; i++) expect(id(`new-${i}`)).not.toBe(a)
    lb.enable(a)
    lb.setWeight(a, 0)
    for (let i = 0; i < 10; i++) expect(id('alice')).toBe(a)
    for (let i = 0; i < 30; i++) expect(id(`newer-${i}`)).not.toBe(a)
  })

  it('survives rebuilds: adding backends keeps every key where it was', () => {
    const { lb, id } = setup()
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`)
    const before = keys.map((k) => id(k))
    lb.add({ id: 'b9', url: 'http://10.0.0.9:80' })
    lb.setWeight('b0', 5)
    expect(keys.map((k) => id(k))).toEqual(before)
  })

  it('lets a retry leave the remembered backend, and remembers the new one', () => {
    const s = setup()
    const first = s.id('alice')
    const t = new BackendSet()
    t.add(s.lb.get(first)!)
    const second = s.id('alice', t)
    expect(second).not.toBe(first)
    expect(s.id('alice')).toBe(second)
    t.add(s.lb.get(second)!)
    t.add(s.lb.backends().find((b) => !t.has(b))!)
    expect(() => s.lb.pick({ key: 'alice' }, t)).toThrow(NoBackendError)
  })

  it('forgets an affinity after ttlMs without use, on the balancer’s clock, and sets no timers', () => {
    const timers = vi.spyOn(globalThis, 'setTimeout')
    const { id, inner, clock } = setup({ ttlMs: 1000 })
    id('alice')
    expect(inner.calls).toBe(1)
    clock.t += 600
    id('alice')
    clock.t += 1000 // 1000 ms since the last use: not yet expired (idle > ttl expires)
    id('alice')
    expect(inner.calls).toBe(1)
    clock.t += 1001
    id('alice')
    expect(inner.calls).toBe(2)
    id('alice')
    expect(inner.calls).toBe(2)
    expect(timers).not.toHaveBeenCalled()
  })

  it('expires correctly even when the clock starts at 0', () => {
    const inner = rotating()
    const clock = fakeClock(0)
    const lb = createBalancer()
      .backends(backends(2))
      .strategy(sticky(inner, { ttlMs: 10 }))
      .clock(clock)
      .build()
    lb.pick({ key: 'k' }).release()
    clock.t = 5
    lb.pick({ key: 'k' }).release()
    expect(inner.calls).toBe(1)
    clock.t = 100
    lb.pick({ key: 'k' }).release()
    expect(inner.calls).toBe(2)
  })

  it('remembers at most `max` keys, dropping the least recently used', () => {
    const { id, inner } = setup({ max: 2 })
    id('a')
    id('b')
    id('a') // a is now the most recently used
    expect(inner.calls).toBe(2)
    id('c') // evicts b
    expect(inner.calls).toBe(3)
    id('a')
    expect(inner.calls).toBe(3)
    id('b')
    expect(inner.calls).toBe(4)
  })

  it('reads the key with an extractor, e.g. a cookie', () => {
    const inner = rotating<HttpKeyContext>()
    const lb = createBalancer<HttpKeyContext>()
      .backends(backends(3))
      .strategy(sticky(inner, { key: keyFromCookie('sid') }))
      .build()
    // Generic inner strategies infer the context type from the extractor.
    expect(sticky(p2c(), { key: keyFromCookie('sid') }).name).toBe('sticky(p2c)')
    const pick = (cookie: string) => lb.pick({ headers: { cookie } }).backend!.id
    const a = pick('theme=dark; sid=abc')
    expect(pick('sid=abc')).toBe(a)
    expect(pick('sid="abc"; x=1')).toBe(a)
    expect(inner.calls).toBe(1)
    pick('theme=light')
    pick('theme=light')
    expect(inner.calls).toBe(3)
  })

  it('keeps keys on unhealthy backends in panic mode, when they are eligible anyway', () => {
    const inner = rotating()
    let control: BalancerControl | undefined
    const lb = createBalancer({ panicThreshold: 0.9 })
      .backends(backends(3))
      .strategy(sticky(inner))
      .health({ name: 't', start: (c) => void (control = c) })
      .build()
    const a = lb.pick({ key: 'alice' }).backend!
    control!.setHealth(a, 't', false, 'down')
    expect(lb.pool.panic).toBe(true)
    expect(lb.pick({ key: 'alice' }).backend).toBe(a)
  })

  it('validates its arguments eagerly', () => {
    const bad = (fn: () => unknown, path: string) => {
      try {
        fn()
        expect.unreachable()
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidOptionError)
        expect((err as InvalidOptionError).path).toBe(path)
      }
    }
    bad(() => sticky(undefined as never), 'strategy.inner')
    bad(() => sticky({ name: 'x' } as never), 'strategy.inner.build')
    bad(() => sticky(rotating(), { ttlMs: 0 }), 'strategy.ttlMs')
    bad(() => sticky(rotating(), { max: 0 }), 'strategy.max')
    bad(() => sticky(rotating(), { max: 1.5 }), 'strategy.max')
    bad(() => sticky(rotating(), { ttl: 5 } as never), 'strategy.ttl')
    bad(() => sticky(rotating(), { key: 'sid' } as never), 'strategy.key')
    expect(sticky(rotating()).name).toBe('sticky(rotating)')
  })
})

import * as core from '@fulcrum/core'
import { BackendSet, createBalancer, InvalidOptionError, NoBackendError, type Strategy } from '@fulcrum/core'
import { describe, expect, it, vi } from 'vitest'
import {
  leastConnections,
  p2c,
  peakEwma,
  random,
  roundRobin,
  weightedRandom,
  weightedRoundRobin,
} from './basic.js'
import { mulberry32 } from './strategies.test-support.js'

const factories: [string, () => Strategy][] = [
  ['round-robin', () => roundRobin()],
  ['weighted-round-robin', () => weightedRoundRobin()],
  ['least-connections', () => leastConnections()],
  ['random', () => random()],
  ['weighted-random', () => weightedRandom()],
  ['peak-ewma', () => peakEwma()],
  ['p2c', () => p2c()],
]

const noOptions = [roundRobin, weightedRoundRobin, leastConnections, random, weightedRandom] as const

describe.each(factories)('%s', (name, make) => {
  const build = (weights: readonly number[], seed = 1) =>
    createBalancer()
      .backends(weights.map((weight, i) => ({ id: `b${i}`, url: `http://127.0.0.1:${9001 + i}`, weight })))
      .strategy(make())
      .random(mulberry32(seed))
      .build()

  it('is named', () => {
    expect(make().name).toBe(name)
    expect(build([1]).snapshot().strategy).toBe(name)
  })

  it('never picks a tried backend and throws NoBackendError once all are tried', () => {
    const lb = build([1, 2, 3, 4, 1])
    const held: core.Lease[] = []
    for (let round = 0; round < 200; round++) {
      const tried = new BackendSet()
      const seen = new Set<string>()
      for (let i = 0; i < 5; i++) {
        const lease = lb.pick(undefined, tried)
        const id = lease.backend!.id
        expect(seen.has(id)).toBe(false)
        seen.add(id)
        tried.add(lease.backend!)
        // Keep some load around so that load-aware strategies do not always pick alike.
        if (round % 3 === 0) held.push(lease)
        else lease.release({ ok: true, latencyMs: 1 + ((round * 7 + i) % 50) })
      }
      expect(() => lb.pick(undefined, tried)).toThrow(NoBackendError)
      if (held.length > 20) for (const lease of held.splice(0)) lease.release()
    }
  })

  it('throws NoBackendError on an empty pool', () => {
    expect(() => build([]).pick()).toThrow(NoBackendError)
  })

  it('never picks weight-0, draining or disabled backends', () => {
    const lb = createBalancer()
      .backends([
        { id: 'zero', url: 'http://127.0.0.1:9001', weight: 0 },
        { id: 'x', url: 'http://127.0.0.1:9002', weight: 2 },
        { id: 'draining', url: 'http://127.0.0.1:9003', admin: 'draining' },
        { id: 'y', url: 'http://127.0.0.1:9004' },
        { id: 'disabled', url: 'http://127.0.0.1:9005', admin: 'disabled' },
        { id: 'later', url: 'http://127.0.0.1:9006' },
      ])
      .strategy(make())
      .random(mulberry32(9))
      .build()
    lb.setWeight('later', 0)
    const seen = new Set<string>()
    for (let i = 0; i < 300; i++) {
      const lease = lb.pick()
      seen.add(lease.backend!.id)
      lease.release(core.CANCELLED) // no latency fed: peakEwma keeps both at its default RTT
    }
    expect([...seen].sort()).toEqual(['x', 'y'])
  })

  it('reads randomness only from the balancer random source', () => {
    const spy = vi.spyOn(Math, 'random')
    try {
      const lb = build([1, 2, 3], 4)
      const tried = new BackendSet()
      for (let i = 0; i < 100; i++) {
        const lease = lb.pick(undefined, i % 2 === 0 ? tried : undefined)
        if (i % 2 === 0) tried.add(lease.backend!)
        if (tried.size === 3) tried.clear()
        lease.release()
      }
      expect(spy).not.toHaveBeenCalled()
    } finally {
      spy.mockRestore()
    }
  })
})

describe('options', () => {
  it.each(noOptions.map((f) => [f.name, f] as const))('%s rejects any option', (_, factory) => {
    expect(() => factory()).not.toThrow()
    expect(() => factory({})).not.toThrow()
    expect(() => factory({ bias: 1 } as never)).toThrow(InvalidOptionError)
    expect(() => factory({ bias: 1 } as never)).toThrow(expect.objectContaining({ path: 'strategy.bias' }))
    expect(() => factory(null as never)).toThrow(expect.objectContaining({ path: 'strategy' }))
    expect(() => factory([] as never)).toThrow(InvalidOptionError)
  })

  it('peakEwma validates defaultRttMs and penaltyMs', () => {
    expect(() => peakEwma({ defaultRttMs: 0, penaltyMs: 0 })).not.toThrow()
    const bad: [object, string][] = [
      [{ defaultRttMs: -1 }, 'strategy.defaultRttMs'],
      [{ defaultRttMs: Number.NaN }, 'strategy.defaultRttMs'],
      [{ defaultRttMs: Number.POSITIVE_INFINITY }, 'strategy.defaultRttMs'],
      [{ defaultRttMs: '30' }, 'strategy.defaultRttMs'],
      [{ penaltyMs: -5 }, 'strategy.penaltyMs'],
      [{ penaltyMs: null }, 'strategy.penaltyMs'],
      [{ decayMs: 10 }, 'strategy.decayMs'],
    ]
    for (const [options, path] of bad) {
      expect(() => peakEwma(options as never)).toThrow(InvalidOptionError)
      expect(() => peakEwma(options as never)).toThrow(expect.objectContaining({ path }))
    }
    expect(() => peakEwma('fast' as never)).toThrow(expect.objectContaining({ path: 'strategy' }))
  })

  it('re-exports core p2c', () => {
    expect(p2c).toBe(core.p2c)
  })
})

/**
 * Example 02: unit-testing routing logic with @fulcrum/testing — no network, no real time, and the
 * same result on every run.
 */
import {
  type Backend,
  type BalancerControl,
  createBalancer,
  type PickContext,
  type Strategy,
} from '@fulcrum/core'
import { logNormal, seededRandom, simulate, VirtualClock } from '@fulcrum/testing'
import { describe, expect, it } from 'vitest'

/**
 * The routing logic under test: rendezvous (highest-random-weight) hashing on `ctx.key`. Every
 * backend scores the key and the highest score wins, so a key sticks to one backend and, when a
 * backend leaves, only its own keys move. (A stand-in for a strategy of @fulcrum/strategies.)
 */
function tenantHash(): Strategy {
  const score = (id: string, key: string): number => {
    let h = 0x811c9dc5
    const s = `${id}\u0000${key}`
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
    h ^= h >>> 15
    h = Math.imul(h, 0x2c1b3c6d)
    return (h ^ (h >>> 12)) >>> 0
  }
  return {
    name: 'tenant-hash',
    build: (snapshot) => ({
      select(ctx: PickContext, skip) {
        let best: Backend | undefined
        let bestScore = -1
        for (const b of snapshot.eligible) {
          if (skip.has(b)) continue
          const s = score(b.id, ctx.key ?? '')
          if (s > bestScore) {
            best = b
            bestScore = s
          }
        }
        return best
      },
    }),
  }
}

describe('routing', () => {
  it('when backend c slows down 10×, p2c moves most of its traffic away within a second', async () => {
    const report = await simulate({
      balancer: createBalancer().retry({ retries: 1 }), // the default strategy: p2c
      backends: [
        { id: 'a', latency: logNormal(10, 0.3) },
        { id: 'b', latency: logNormal(10, 0.3) },
        { id: 'c', latency: logNormal(10, 0.3), events: [{ at: 5_000, slow: 10 }] },
      ],
      load: { concurrency: 16 },
      durationMs: 10_000,
      seed: 42,
    })
    const shareOfC = (from: number, to: number): number => {
      const buckets = report.timeline.filter((b) => b.t >= from && b.t < to)
      const attempts = (id: string) => buckets.reduce((sum, b) => sum + b.perBackend[id]!.attempts, 0)
      return attempts('c') / (attempts('a') + attempts('b') + attempts('c'))
    }
    expect(shareOfC(0, 5_000)).toBeGreaterThan(0.3) // a fair third before
    expect(shareOfC(5_000, 6_000)).toBeLessThan(0.1) // a trickle from the first second after
    expect(shareOfC(6_000, 10_000)).toBeLessThan(0.1)
    expect(report.requests.failed).toBe(0)
  })

  it('hashing by tenant keeps every tenant on one backend, and only moves the tenants of a leaver', async () => {
    const leaveAt = 5_000
    const seen = new Map<string, Set<string>>() // "before:tenant-7" → backends it was routed to
    let control: BalancerControl | undefined
    const report = await simulate({
      balancer: createBalancer()
        .strategy(tenantHash())
        // A spy plugin: sees every pick with its context; control.clock is the simulation's clock.
        .use({
          name: 'spy',
          start: (c) => {
            control = c
          },
          onAcquire: (backend, ctx) => {
            const k = `${control!.clock.now() < leaveAt ? 'before' : 'after'}:${ctx.key}`
            seen.set(k, (seen.get(k) ?? new Set()).add(backend.id))
          },
        }),
      backends: [{ id: 'a' }, { id: 'b' }, { id: 'c', leaveAt }, { id: 'd' }],
      load: { rps: 400 },
      durationMs: 10_000,
      seed: 7,
      key: (_i, random) => `tenant-${random.int(50)}`,
    })
    expect(report.requests.failed).toBe(0)
    for (const ids of seen.values()) expect(ids.size).toBe(1) // sticky within each phase
    let moved = 0
    for (let t = 0; t < 50; t++) {
      const before = [...(seen.get(`before:tenant-${t}`) ?? [])][0]
      const after = [...(seen.get(`after:tenant-${t}`) ?? [])][0]
      if (before === undefined || after === undefined) continue
      if (before !== after) {
        moved++
        expect(before).toBe('c') // only c's tenants moved
      }
    }
    expect(moved).toBeGreaterThan(0)
    expect(report.backends.c!.attempts).toBeGreaterThan(0)
  })

  it('a per-try timeout retries on another backend, at exact virtual times', async () => {
    const clock = new VirtualClock()
    const lb = createBalancer()
      .backends(['127.0.0.1:9001', '127.0.0.1:9002'])
      .clock(clock)
      .random(seededRandom('per-try'))
      .retry({ retries: 1, perTryTimeoutMs: 200, budget: false })
      .build()
    const calls: string[] = []
    const answer = lb.execute({}, (backend, signal, info) => {
      calls.push(`${backend.id}@${clock.now()}`)
      return new Promise<string>((resolve, reject) => {
        // The first backend tried hangs; the second answers in 20 ms.
        const timer = info.attempt === 0 ? undefined : clock.setTimer(() => resolve(backend.id), 20)
        signal.addEventListener('abort', () => {
          clock.clearTimer(timer)
          reject(signal.reason)
        })
      })
    })
    await clock.advanceAsync(1_000) // a second of virtual time, in microseconds of real time
    const servedBy = await answer
    expect(calls).toHaveLength(2)
    expect(calls[0]).toMatch(/@0$/)
    expect(calls[1]!.startsWith(servedBy)).toBe(true)
    expect(calls[0]!.startsWith(servedBy)).toBe(false)
    expect(lb.backends().find((b) => b.id !== servedBy)!.counters.lastFailure).toBe('timeout')
    await lb.close()
  })
})

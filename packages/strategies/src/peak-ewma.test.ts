import { BackendSet, type Balancer, CANCELLED, type Clock, createBalancer, type Lease } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { type PeakEwmaOptions, peakEwma } from './peak-ewma.js'
import { mulberry32 } from './strategies.test-support.js'

/** A clock that moves only when told to. */
class ManualClock implements Clock {
  time = 0
  now(): number {
    return this.time
  }
  setTimer(): unknown {
    return undefined
  }
  clearTimer(): void {}
}

function setup(ids: string, options: PeakEwmaOptions = {}, latencyDecayMs = 10_000) {
  const clock = new ManualClock()
  const lb = createBalancer({ latencyDecayMs })
    .backends([...ids].map((id, i) => ({ id, url: `http://127.0.0.1:${9001 + i}` })))
    .strategy(peakEwma(options))
    .random(mulberry32(3))
    .clock(clock)
    .build()
  return { lb, clock }
}

/** Picks backend `id` (every other one tried). */
function pickOn(lb: Balancer, id: string): Lease {
  const others = new BackendSet()
  for (const b of lb.backends()) if (b.id !== id) others.add(b)
  const lease = lb.pick(undefined, others)
  expect(lease.backend!.id).toBe(id)
  return lease
}

/** Feeds one successful request of `latencyMs` to backend `id`. */
function observe(lb: Balancer, id: string, latencyMs: number): void {
  pickOn(lb, id).release({ ok: true, latencyMs })
}

/** Holds `n` leases on backend `id`. */
function hold(lb: Balancer, id: string, n: number): Lease[] {
  return Array.from({ length: n }, () => pickOn(lb, id))
}

/** Counts of `n` picks per backend id; each is released at once as cancelled, so no latency is fed. */
function counts(lb: Balancer, n: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const lease = lb.pick()
    const id = lease.backend!.id
    out[id] = (out[id] ?? 0) + 1
    lease.release(CANCELLED)
  }
  return out
}

describe('peakEwma', () => {
  it('prefers the backend with the lower latency estimate', () => {
    const { lb } = setup('ab')
    observe(lb, 'a', 200)
    observe(lb, 'b', 20)
    expect(counts(lb, 50)).toEqual({ b: 50 })
  })

  it('multiplies the latency by inflight + 1', () => {
    const { lb } = setup('ab')
    observe(lb, 'a', 200)
    observe(lb, 'b', 20)
    const held = hold(lb, 'b', 8) // b costs 20 × 9 = 180 < 200
    expect(counts(lb, 20)).toEqual({ b: 20 })
    held.push(...hold(lb, 'b', 2)) // 20 × 11 = 220 > 200
    expect(counts(lb, 20)).toEqual({ a: 20 })
    for (const lease of held) lease.release(CANCELLED)
    expect(counts(lb, 20)).toEqual({ b: 20 })
  })

  it('samples two distinct backends, so the most expensive one is never picked', () => {
    const { lb } = setup('abc')
    observe(lb, 'a', 10)
    observe(lb, 'b', 20)
    observe(lb, 'c', 300)
    const seen = counts(lb, 3000)
    expect(seen.c).toBeUndefined()
    // b wins only the pair (b, c): a third of the picks.
    expect(seen.b).toBeGreaterThan(850)
    expect(seen.b).toBeLessThan(1150)
  })

  it('assumes defaultRttMs for a backend without samples', () => {
    const fresh = setup('ab')
    observe(fresh.lb, 'a', 50)
    expect(counts(fresh.lb, 20)).toEqual({ b: 20 }) // 30 ms default < 50 ms
    const cautious = setup('ab', { defaultRttMs: 100 })
    observe(cautious.lb, 'a', 50)
    expect(counts(cautious.lb, 20)).toEqual({ a: 20 })
  })

  it('reads the estimate at the time of the pick, so a slow backend is retried once it decays', () => {
    const { lb, clock } = setup('ab', {}, 1000)
    observe(lb, 'a', 200)
    expect(counts(lb, 20)).toEqual({ b: 20 }) // b: default 30 ms
    clock.time = 2500 // a: 200 × e^-2.5 ≈ 16 ms
    expect(counts(lb, 20)).toEqual({ a: 20 })
  })

  it('jumps to a latency peak at once', () => {
    const { lb, clock } = setup('ab')
    observe(lb, 'a', 20)
    observe(lb, 'b', 40)
    expect(counts(lb, 10)).toEqual({ a: 10 })
    clock.time = 100
    observe(lb, 'a', 500)
    expect(counts(lb, 10)).toEqual({ b: 10 })
  })

  it('charges penaltyMs + inflight to a backend with a zero estimate and requests in flight', () => {
    const { lb } = setup('ab')
    observe(lb, 'a', 0)
    observe(lb, 'b', 0)
    const held = hold(lb, 'a', 2)
    expect(counts(lb, 20)).toEqual({ b: 20 }) // 0 × (0 + 1) = 0 would tie without the penalty
    held.push(...hold(lb, 'b', 1))
    expect(counts(lb, 20)).toEqual({ b: 20 }) // 1e6 + 1 < 1e6 + 2
    held.push(...hold(lb, 'b', 2))
    expect(counts(lb, 20)).toEqual({ a: 20 })
    observe(lb, 'a', 50) // a: 50 × 3 = 150 ≪ b: 1e6 + 3
    expect(counts(lb, 20)).toEqual({ a: 20 })
    for (const lease of held) lease.release(CANCELLED)
  })
})

import { describe, expect, it } from 'vitest'
import { createBalancer } from './builder.js'

describe('backend statistics', () => {
  it('a fast failure counts as failurePenaltyMs of latency; cancellations are not held against it', () => {
    const lb = createBalancer({ failurePenaltyMs: 500 }).backends(['127.0.0.1:9001']).build()
    const b = lb.backends()[0]!
    lb.pick().release({ ok: true, latencyMs: 10 })
    expect(b.latency.raw).toBe(10)
    lb.pick().release({ ok: false, error: 'connect', latencyMs: 1 })
    expect(b.latency.raw).toBe(500)
    expect(b.counters.consecutiveFailures).toBe(1)
    lb.pick().release({ ok: false, error: 'cancelled' })
    expect(b.counters.cancelled).toBe(1)
    expect(b.counters.failures).toBe(1)
    expect(b.counters.consecutiveFailures).toBe(1)
    lb.pick().release({ ok: true, latencyMs: 10 })
    expect(b.counters.consecutiveFailures).toBe(0)
    expect(b.toJSON()).toMatchObject({ id: '127.0.0.1:9001', state: 'healthy', requests: 4, failures: 1 })
  })
})

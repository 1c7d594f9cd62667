/**
 * Cross-package: load-aware strategies steer away from a slow backend, and static ones do not,
 * measured with simulate() on a virtual clock (no network, deterministic).
 */
import { createBalancer, p2c, type Strategy } from '@fulcrum/core'
import { leastConnections, peakEwma, roundRobin } from '@fulcrum/strategies'
import { simulate } from '@fulcrum/testing'
import { describe, expect, it } from 'vitest'

async function slowShare(strategy: Strategy, load: { concurrency: number } | { rps: number }) {
  const report = await simulate({
    balancer: createBalancer().strategy(strategy),
    backends: [
      { id: 'a', latency: 10 },
      { id: 'b', latency: 10 },
      { id: 'slow', latency: 10, events: [{ at: 2_000, slow: 10 }] },
    ],
    load,
    durationMs: 12_000,
    timelineMs: 1_000,
    seed: 11,
  })
  // Share of attempts the slow backend took after it slowed down (buckets from t = 3 s on).
  let slow = 0
  let all = 0
  for (const bucket of report.timeline.filter((b) => b.t >= 3_000)) {
    for (const [id, s] of Object.entries(bucket.perBackend)) {
      all += s.attempts
      if (id === 'slow') slow += s.attempts
    }
  }
  return { share: slow / all, p99: report.requests.latency.p99 }
}

describe('steering away from a slow backend (simulate)', () => {
  it('least-connections, peak-EWMA and p2c send far less than a third to a backend 10× slower', async () => {
    const rr = await slowShare(roundRobin(), { concurrency: 24 })
    const lc = await slowShare(leastConnections(), { concurrency: 24 })
    const ewma = await slowShare(peakEwma(), { concurrency: 24 })
    const two = await slowShare(p2c(), { concurrency: 24 })
    expect(rr.share).toBeCloseTo(1 / 3, 1)
    expect(lc.share).toBeLessThan(0.1)
    expect(two.share).toBeLessThan(0.15)
    expect(ewma.share).toBeLessThan(0.05)
    expect(ewma.p99).toBeLessThan(rr.p99)
  })

  it('peak-EWMA steers away even at low load, where in-flight counts say nothing', async () => {
    // 20 rps × 10 ms: backends are nearly always idle, so least-connections sees no difference.
    const ewma = await slowShare(peakEwma(), { rps: 20 })
    const lc = await slowShare(leastConnections(), { rps: 20 })
    expect(ewma.share).toBeLessThan(0.1)
    expect(lc.share).toBeGreaterThan(ewma.share)
  })
})

import { type Backend, createBalancer, InvalidOptionError, type Strategy } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { exponential, uniform } from './distributions.js'
import { simulate } from './simulate.js'
import type { SimulationReport, TimelineBucket } from './simulation-report.js'

const three = [{ id: 'a' }, { id: 'b' }, { id: 'c' }]

/** Sum of one backend's per-bucket stat over the buckets matching `when`. */
function sum(
  report: SimulationReport,
  id: string,
  stat: 'attempts' | 'successes' | 'failures',
  when: (b: TimelineBucket) => boolean,
): number {
  return report.timeline.filter(when).reduce((acc, b) => acc + b.perBackend[id]![stat], 0)
}

describe('simulate()', () => {
  it('shares traffic about equally between three identical backends', async () => {
    const report = await simulate({
      balancer: createBalancer(),
      backends: three,
      load: { rps: 500 },
      durationMs: 10_000,
      seed: 1,
    })
    expect(report.requests.total).toBeGreaterThan(4_700)
    expect(report.requests.total).toBeLessThan(5_300)
    expect(report.requests.failed).toBe(0)
    expect(report.requests.unfinished).toBe(0)
    for (const id of ['a', 'b', 'c']) {
      const b = report.backends[id]!
      expect(b.share).toBeGreaterThan(0.3)
      expect(b.share).toBeLessThan(0.37)
      expect(b.failures).toBe(0)
      expect(b.latency.p50).toBeCloseTo(10, 6)
    }
    expect(report.timeline).toHaveLength(10)
    expect(report.timeline.reduce((acc, b) => acc + b.requests, 0)).toBe(report.requests.total)
    expect(report.simulatedMs).toBeGreaterThanOrEqual(9_990)
  })

  it('p2c sends less to a backend with much higher latency under closed-loop load', async () => {
    const report = await simulate({
      balancer: createBalancer(),
      backends: [{ id: 'a' }, { id: 'b', latency: uniform(8, 12) }, { id: 'slow', latency: 100 }],
      load: { concurrency: 32 },
      durationMs: 8_000,
      seed: 2,
    })
    expect(report.backends.slow!.share).toBeLessThan(0.15)
    expect(report.backends.a!.share).toBeGreaterThan(0.4)
    expect(report.backends.b!.share).toBeGreaterThan(0.4)
    expect(report.backends.slow!.latency.p50).toBeCloseTo(100, 6)
    // A closed loop's throughput follows latency: 32 clients at ~10 ms ≈ 3,000 rps.
    expect(report.requests.total / 8).toBeGreaterThan(2_000)
  })

  it('a backend that dies gets no successful attempts after, and retries hide it from clients', async () => {
    const report = await simulate({
      balancer: createBalancer().retry({ retries: 2, budget: false }),
      backends: [{ id: 'a' }, { id: 'b' }, { id: 'c', events: [{ at: 5_000, die: true }] }],
      load: { rps: 500 },
      durationMs: 20_000,
      seed: 3,
    })
    const c = report.backends.c!
    expect(sum(report, 'c', 'successes', (b) => b.t < 5_000)).toBe(c.successes)
    expect(sum(report, 'c', 'successes', (b) => b.t >= 5_000)).toBe(0)
    // Only the attempts in flight at the crash failed before it (reset); later ones are refused.
    expect(sum(report, 'c', 'failures', (b) => b.t < 5_000)).toBe(c.failuresByKind.reset ?? 0)
    expect(c.failuresByKind.reset ?? 0).toBeLessThan(10)
    // Passive failure avoidance: 3 refusals, then one probe per 10 s window.
    expect(c.failuresByKind.connect).toBeGreaterThanOrEqual(3)
    expect(c.failuresByKind.connect).toBeLessThan(20)
    expect(report.requests.failed).toBe(0)
    expect(report.requests.retries).toBe(c.failures)
  })

  it('without failure avoidance, p2c keeps picking a dead backend and the retry budget caps the retries', async () => {
    // p2c compares in-flight counts only, and a dead backend refuses in 1 ms, so it keeps winning
    // picks; the retry budget (20 % of requests + 10/s) then stops the retry storm.
    const report = await simulate({
      balancer: createBalancer({ maxFails: 0 }).retry({ retries: 2 }),
      backends: [{ id: 'a' }, { id: 'b' }, { id: 'c', events: [{ at: 5_000, die: true }] }],
      load: { rps: 200 },
      durationMs: 20_000,
      seed: 3,
    })
    expect(report.requests.retriesDenied).toBeGreaterThan(0)
    expect(report.requests.failed).toBe(report.requests.retriesDenied)
    expect(report.requests.errors).toEqual({ ECONNREFUSED: report.requests.failed })
    // At most ~20 % of requests + 10/s over a 10 s window, over the 15 s after the crash.
    expect(report.requests.retries).toBeLessThan(0.2 * report.requests.total + 10 * 25)
  })

  it('a recovered backend takes traffic again; slow: k multiplies its latency', async () => {
    const report = await simulate({
      balancer: createBalancer({ failTimeoutMs: 500 }).retry({ retries: 1, budget: false }),
      backends: [
        { id: 'a' },
        { id: 'b' },
        {
          id: 'c',
          events: [
            { at: 2_000, slow: 3 },
            { at: 4_000, die: true, slow: 1 },
            { at: 6_000, recover: true },
          ],
        },
      ],
      load: { concurrency: 4 },
      durationMs: 8_000,
      seed: 4,
    })
    expect(sum(report, 'c', 'successes', (b) => b.t >= 4_000 && b.t < 6_000)).toBe(0)
    expect(sum(report, 'c', 'successes', (b) => b.t >= 6_000)).toBeGreaterThan(100)
    expect(report.backends.c!.latency.max).toBeCloseTo(30, 6)
    expect(report.requests.failed).toBe(0)
  })

  it('respects joinAt and leaveAt: no attempts before the join or after the leave', async () => {
    const report = await simulate({
      balancer: createBalancer(),
      backends: [{ id: 'a' }, { id: 'b' }, { id: 'd', joinAt: 3_000, leaveAt: 7_000 }],
      load: { rps: 300 },
      durationMs: 10_000,
      seed: 5,
    })
    expect(sum(report, 'd', 'attempts', (b) => b.t < 3_000)).toBe(0)
    expect(sum(report, 'd', 'attempts', (b) => b.t >= 7_000)).toBe(0)
    expect(sum(report, 'd', 'attempts', (b) => b.t >= 3_000 && b.t < 7_000)).toBe(report.backends.d!.attempts)
    expect(report.backends.d!.attempts).toBeGreaterThan(300)
    expect(report.requests.failed).toBe(0)
  })

  it('a drained or removed backend gets nothing', async () => {
    const report = await simulate({
      balancer: createBalancer(),
      backends: [{ id: 'a' }, { id: 'b' }, { id: 'c', leaveAt: 4_000 }, { id: 'd' }],
      actions: [{ at: 2_000, run: (lb) => lb.drain('b') }],
      load: { rps: 400 },
      durationMs: 8_000,
      seed: 6,
    })
    expect(sum(report, 'b', 'attempts', (b) => b.t >= 2_000)).toBe(0)
    expect(sum(report, 'c', 'attempts', (b) => b.t >= 4_000)).toBe(0)
    expect(sum(report, 'b', 'attempts', (b) => b.t < 2_000)).toBeGreaterThan(100)
    expect(report.backends.a!.attempts + report.backends.d!.attempts).toBeGreaterThan(
      0.7 * report.requests.total,
    )
    expect(report.requests.failed).toBe(0)
  })

  it('is deterministic: same options and seed, identical report; another seed differs', async () => {
    const options = {
      balancer: createBalancer().retry({ retries: 1, perTryTimeoutMs: 40 }),
      backends: [
        { id: 'a', latency: exponential(10), errorRate: 0.02 },
        { id: 'b', latency: uniform(5, 15) },
        {
          id: 'c',
          latency: 10,
          events: [
            { at: 1_000, slow: 5 },
            { at: 3_000, die: true as const },
          ],
        },
        { id: 'd', latency: 10, joinAt: 2_000, leaveAt: 4_000 },
      ],
      load: { rps: 300 },
      durationMs: 5_000,
      key: (i: number) => `user-${i % 17}`,
    }
    const first = await simulate({ ...options, seed: 'same' })
    const second = await simulate({ ...options, seed: 'same' })
    expect(second).toEqual(first)
    expect(JSON.stringify(second)).toBe(JSON.stringify(first))
    const other = await simulate({ ...options, seed: 'other' })
    expect(other.requests.total).not.toBe(first.requests.total)
  })

  it('counts per-try timeouts as timeout failures and retries them', async () => {
    const report = await simulate({
      balancer: createBalancer().retry({ retries: 1, perTryTimeoutMs: 50, budget: false }),
      backends: [{ id: 'fast' }, { id: 'stuck', latency: 1_000 }],
      load: { rps: 100 },
      durationMs: 5_000,
      seed: 7,
    })
    const stuck = report.backends.stuck!
    expect(stuck.successes).toBe(0)
    expect(stuck.failuresByKind).toEqual({ timeout: stuck.attempts })
    expect(stuck.latency.max).toBeCloseTo(50, 6)
    expect(report.requests.failed).toBe(0)
    expect(report.requests.latency.max).toBeLessThan(50 + 25 + 10 + 1e-6)
  })

  it('random errors fail with ECONNRESET at the configured rate', async () => {
    const report = await simulate({
      balancer: createBalancer(),
      backends: [{ id: 'flaky', errorRate: 0.1 }],
      load: { rps: 1_000 },
      durationMs: 10_000,
      seed: 8,
    })
    const flaky = report.backends.flaky!
    expect(flaky.failures / flaky.attempts).toBeGreaterThan(0.09)
    expect(flaky.failures / flaky.attempts).toBeLessThan(0.11)
    expect(flaky.failuresByKind).toEqual({ reset: flaky.failures })
    expect(report.requests.errors).toEqual({ ECONNRESET: flaky.failures })
  })

  it('passes routing keys (or a whole context) to the strategy', async () => {
    // A tiny key-reading strategy: keys starting with "x" go to the first backend, others to the last.
    const byPrefix: Strategy = {
      name: 'by-prefix',
      build: (snap) => ({
        select: (ctx, skip) => {
          const list = snap.eligible.filter((b) => !skip.has(b))
          return ctx.key?.startsWith('x') ? list[0] : list.at(-1)
        },
      }),
    }
    const report = await simulate({
      balancer: createBalancer().strategy(byPrefix),
      backends: three,
      load: { rps: 100 },
      durationMs: 2_000,
      key: (i) => (i % 4 === 0 ? `x${i}` : `y${i}`),
    })
    expect(report.backends.b!.attempts).toBe(0)
    expect(report.backends.a!.share).toBeCloseTo(0.25, 1)
    interface Tenant {
      readonly tenant: number
    }
    const byTenant: Strategy<Tenant> = {
      name: 'by-tenant',
      build: (snap) => ({ select: (ctx) => snap.eligible[ctx.tenant % snap.eligible.length] }),
    }
    const tenants = await simulate({
      balancer: createBalancer<Tenant>().strategy(byTenant),
      backends: three,
      load: { concurrency: 3 },
      durationMs: 1_000,
      context: (i, random) => ({ tenant: i === 0 ? 1 : random.int(1) + 1 }),
    })
    expect(tenants.backends.b!.share).toBe(1)
  })

  it('closed loop on an empty pool pauses 1 ms after instant failures, then uses the joined backend', async () => {
    const report = await simulate({
      balancer: createBalancer(),
      backends: [{ id: 'late', joinAt: 100 }],
      load: { concurrency: 2 },
      durationMs: 1_000,
    })
    expect(report.requests.errors).toEqual({ FULCRUM_ERR_NO_BACKEND: 200 })
    expect(report.backends.late!.attempts).toBe(report.requests.succeeded)
    expect(report.requests.succeeded).toBe(2 * 90)
  })

  it('reports requests that can never finish instead of hanging', async () => {
    const report = await simulate({
      balancer: createBalancer().use({ name: 'black-hole', wrap: () => () => new Promise<never>(() => {}) }),
      backends: [{ id: 'a' }],
      load: { rps: 100 },
      durationMs: 1_000,
      seed: 9,
    })
    expect(report.requests.unfinished).toBe(report.requests.total)
    expect(report.requests.total).toBeGreaterThan(50)
    expect(report.backends.a!.attempts).toBe(0)
  })

  it('aborts on a bad latency sample, a throwing action or too many requests, and closes the balancer', async () => {
    const seen: Backend[][] = []
    const balancer = createBalancer().use({ name: 'spy', start: (c) => seen.push([...c.backends()]) })
    await expect(
      simulate({
        balancer,
        backends: [{ id: 'a' }, { id: 'b', latency: { sample: () => Number.NaN } }],
        load: { rps: 100 },
        durationMs: 1_000,
      }),
    ).rejects.toMatchObject({ name: 'InvalidOptionError', path: 'backends[1].latency' })
    await expect(
      simulate({
        balancer,
        backends: three,
        actions: [{ at: 10, run: (lb) => lb.drain('nope') }],
        load: { rps: 100 },
        durationMs: 1_000,
      }),
    ).rejects.toMatchObject({ code: 'FULCRUM_ERR_UNKNOWN_BACKEND' })
    await expect(
      simulate({
        balancer,
        backends: three,
        load: { concurrency: 10 },
        durationMs: 10_000,
        maxRequests: 500,
      }),
    ).rejects.toThrow(/maxRequests/)
    expect(seen).toHaveLength(3)
  })

  it('validates its options with InvalidOptionError paths', async () => {
    await expect(
      simulate({
        balancer: createBalancer(),
        backends: [{ id: 'a', latency: -1 }],
        load: { rps: 1 },
        durationMs: 1,
      }),
    ).rejects.toBeInstanceOf(InvalidOptionError)
  })

  it('runs a minute of traffic at 500 rps quickly', { timeout: 10_000 }, async () => {
    const report = await simulate({
      balancer: createBalancer().retry({ retries: 1 }),
      backends: [
        { id: 'a', latency: 10 },
        { id: 'b', latency: uniform(5, 15), errorRate: 0.01 },
        {
          id: 'c',
          latency: 10,
          events: [
            { at: 5_000, slow: 10 },
            { at: 20_000, die: true },
            { at: 40_000, recover: true },
          ],
        },
        { id: 'd', latency: 10, joinAt: 10_000, leaveAt: 30_000 },
      ],
      load: { rps: 500 },
      durationMs: 60_000,
      seed: 42,
    })
    expect(report.requests.total).toBeGreaterThan(29_000)
    expect(report.timeline).toHaveLength(60)
    expect(sum(report, 'd', 'attempts', (b) => b.t < 10_000 || b.t >= 30_000)).toBe(0)
  })
})

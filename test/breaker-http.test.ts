/**
 * `@fulcrum/breaker` behind the HTTP proxy, on real loopback sockets and real timers: a backend that
 * answers 500 (booked as a failure by the proxy) opens its circuit breaker, takes nothing while it
 * is open, gets exactly one probe once half-open, and closes when it is fixed; `concurrencyLimit()`
 * refuses the request over the limit with a 503, `Retry-After` and `FULCRUM_ERR_OVERLOAD`.
 */
import { circuitBreaker, concurrencyLimit } from '@fulcrum/breaker'
import { type Balancer, createBalancer } from '@fulcrum/core'
import { roundRobin } from '@fulcrum/strategies'
import { describe, expect, it } from 'vitest'
import { backendOf, healthFixture, load, Recorder } from './health-helpers.js'
import { servedBy, settledLogs, waitFor } from './http-failure-helpers.js'

const { h, fleet, track } = healthFixture()

/** The balancer, tracked so that `afterEach` closes it (its timers and plugins). */
function tracked<Ctx>(lb: Balancer<Ctx>): Balancer<Ctx> {
  track(lb)
  return lb
}

const BACKOFF = { minMs: 200, maxMs: 1_000 }
/** Slack for timer and scheduling delays on a loaded machine. */
const SLACK_MS = 300

describe('circuit breaker through the proxy', () => {
  it('500s open the breaker; open: no requests; half-open: exactly one probe; fixed: closes', async () => {
    const [good, bad] = await fleet.backends(2)
    bad!.status = 500
    const breaker = circuitBreaker({ consecutiveFailures: 3, backoff: BACKOFF, halfOpenProbes: 1 })
    const lb = tracked(
      // The breaker is passive: the built-in maxFails is off next to it.
      createBalancer()
        .backends([good!.url, bad!.url])
        .strategy(roundRobin())
        .use(breaker)
        .retry({ retries: 2 })
        .build(),
    )
    const rec = new Recorder(lb)
    const badId = backendOf(lb, bad!).id
    const p = await h.proxy(lb)

    // Closed: sequential GETs until the breaker opens; the 500s reach the client (500 is not retried).
    const closedStatuses: number[] = []
    for (let i = 0; i < 30 && rec.find('breaker', badId, 'open') === undefined; i++)
      closedStatuses.push((await h.get(`${p.url}/closed/${i}`)).status)
    const opened = await rec.waitTransition('breaker', badId, 'open', 0, 1_000)
    expect(opened).toMatchObject({ from: 'closed', reason: '3 consecutive failures' })
    expect(bad!.hits, 'exactly 3 failures open it').toBe(3)
    expect(closedStatuses.filter((s) => s === 500)).toHaveLength(3)
    expect(good!.hits).toBe(closedStatuses.length - 3)

    // Open: the bad backend takes nothing, every request is served by the good one. The run stops
    // shortly before the backoff ends, so that the probe is normally left for the burst below.
    bad!.delayMs = 150
    const hitsAtOpen = bad!.hits
    let hitsAtHalfOpen = -1
    lb.on('breaker:state', (e) => {
      if (e.to === 'half-open' && hitsAtHalfOpen < 0) hitsAtHalfOpen = bad!.hits
    })
    const openUntil = breaker.stateOf(badId)!.openUntil!
    const openRun = await load((u) => h.get(u), `${p.url}/open`, {
      workers: 1,
      maxMs: BACKOFF.minMs + SLACK_MS,
      stop: () => rec.now() >= openUntil - 30,
      pauseMs: 5,
    })
    const halfOpen = await rec.waitTransition(
      'breaker',
      badId,
      'half-open',
      opened.at,
      BACKOFF.minMs + SLACK_MS,
    )
    expect(halfOpen.reason).toMatch(/^backoff of \d+ ms elapsed$/)
    // The first backoff is equal-jittered in [minMs / 2, minMs).
    expect(halfOpen.at - opened.at).toBeGreaterThanOrEqual(BACKOFF.minMs / 2 - 5)
    expect(halfOpen.at - opened.at).toBeLessThanOrEqual(BACKOFF.minMs + SLACK_MS)
    expect(hitsAtHalfOpen, 'no request reached the backend while its breaker was open').toBe(hitsAtOpen)
    expect(openRun.length).toBeGreaterThan(0)
    // On a slow machine the run's last request may already have been the probe.
    const probeInRun = openRun.at(-1)!.backend === 'b1'
    const servedWhileOpen = probeInRun ? openRun.slice(0, -1) : openRun
    expect(servedWhileOpen.every((r) => r.status === 200 && r.backend === 'b0')).toBe(true)

    // Half-open, still broken: six concurrent requests while the (slow) probe runs; one probe only.
    const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => h.get(`${p.url}/half-open/${i}`)))
    const reopened = await rec.waitTransition('breaker', badId, 'open', halfOpen.at, 1_000)
    expect(reopened).toMatchObject({ from: 'half-open', reason: 'probe failed' })
    expect(bad!.hits - hitsAtOpen, 'exactly one probe in half-open').toBe(1)
    expect(burst.filter((r) => r.status === 500)).toHaveLength(probeInRun ? 0 : 1)
    expect(burst.filter((r) => r.status === 200 && servedBy(r) === 'b0')).toHaveLength(probeInRun ? 6 : 5)

    // Fixed: after the second (doubled) backoff, one probe succeeds and the breaker closes.
    bad!.status = 200
    bad!.delayMs = 0
    const closeRun = await load((u) => h.get(u), `${p.url}/recover`, {
      workers: 1,
      maxMs: 2 * BACKOFF.minMs + SLACK_MS + 1_000,
      stop: () => rec.find('breaker', badId, 'closed', reopened.at) !== undefined,
      pauseMs: 5,
    })
    const closed = await rec.waitTransition('breaker', badId, 'closed', reopened.at, 100)
    expect(closed).toMatchObject({ from: 'half-open', reason: '1 probe succeeded' })
    const secondHalfOpen = rec.find('breaker', badId, 'half-open', reopened.at)!
    expect(secondHalfOpen.at - reopened.at).toBeGreaterThanOrEqual(BACKOFF.minMs - 5)
    expect(secondHalfOpen.at - reopened.at).toBeLessThanOrEqual(2 * BACKOFF.minMs + SLACK_MS)
    expect(closeRun.every((r) => r.status === 200)).toBe(true)

    // Closed again: the backend takes its share of round robin.
    const before = bad!.hits
    for (let i = 0; i < 10; i++) expect((await h.get(`${p.url}/after/${i}`)).status).toBe(200)
    expect(bad!.hits - before).toBeGreaterThanOrEqual(4)
    expect(rec.transitions.filter((t) => t.kind === 'breaker').map((t) => t.to)).toEqual([
      'open',
      'half-open',
      'open',
      'half-open',
      'closed',
    ])
  })
})

describe('concurrency limit through the proxy', () => {
  it('maxRequests 2 with a slow backend: the third concurrent request gets 503 FULCRUM_ERR_OVERLOAD with Retry-After', async () => {
    const [slow] = await fleet.backends(1)
    slow!.delayMs = 800
    const lb = tracked(
      createBalancer()
        .backends([slow!.url])
        .use(concurrencyLimit({ maxRequests: 2 }))
        .build(),
    )
    const p = await h.proxy(lb)
    let settled = 0
    const first = h.get(`${p.url}/1`).finally(() => settled++)
    const second = h.get(`${p.url}/2`).finally(() => settled++)
    await waitFor(() => slow!.hits === 2, 2_000, 'two requests at the backend')
    const third = await h.get(`${p.url}/3`)
    expect(third.status).toBe(503)
    expect(third.headers['retry-after']).toBe('1')
    expect(settled, 'refused at once, while the first two were still running (not queued)').toBe(0)
    expect(slow!.hits).toBe(2)
    const [a, b] = await Promise.all([first, second])
    expect([a.status, b.status]).toEqual([200, 200])
    // Capacity is back once they finished.
    expect((await h.get(`${p.url}/4`)).status).toBe(200)
    const logs = await settledLogs(p, 4)
    const refused = logs.find((l) => l.url === '/3')!
    expect(refused).toMatchObject({ status: 503, attempts: 0 })
    expect(refused.error).toMatchObject({ status: 503, code: 'FULCRUM_ERR_OVERLOAD' })
  })
})

/**
 * Active HTTP health checks (`httpCheck()`) behind the HTTP proxy, on real loopback sockets and real
 * timers: a killed backend is marked down within `fall` checks and takes no more picks, comes back
 * within `rise` checks of its restart on the same port and takes traffic again; a `/healthz` that
 * answers 503 (while `/` still works) or never answers takes its backend out too.
 */
import { type BalancerOptions, createBalancer } from '@fulcrum/core'
import { httpCheck } from '@fulcrum/health'
import { describe, expect, it } from 'vitest'
import { backendOf, healthFixture, load, Recorder, waitFullyUp } from './health-helpers.js'
import { sleep } from './http-failure-helpers.js'

const { h, fleet, track } = healthFixture()

const INTERVAL_MS = 100
const TIMEOUT_MS = 50
const RISE = 2
const FALL = 3
/**
 * Slack for timer and scheduling delays on a loaded machine: room for one spurious 50 ms check
 * timeout (an event-loop stall) on the way up or down.
 */
const SLACK_MS = 500

async function setup(options: BalancerOptions = {}) {
  const bs = await fleet.backends(3)
  const check = httpCheck({
    path: '/healthz',
    intervalMs: INTERVAL_MS,
    timeoutMs: TIMEOUT_MS,
    rise: RISE,
    fall: FALL,
  })
  const lb = createBalancer(options)
    .backends(bs.map((b) => b.url))
    .health(check)
    .retry({ retries: 2 })
    .build()
  track(lb)
  const rec = new Recorder(lb)
  const p = await h.proxy(lb)
  await waitFullyUp(lb, check, RISE, FALL)
  return { bs, check, lb, rec, p }
}

/**
 * The attempts picked outside panic mode. Panic mode (default: under 50 % healthy) routes to unhealthy
 * backends on purpose, and on a starved machine a stalled event loop can time out the 50 ms checks
 * of the other backends often enough to enter it.
 */
function notInPanic<A extends { readonly startedAt: number }>(rec: Recorder<unknown>, attempts: A[]): A[] {
  return attempts.filter((a) => !rec.inPanic(a.startedAt))
}

describe('active HTTP health checks through the proxy', () => {
  it('a killed backend is marked down within fall checks, takes no picks, and returns within rise checks of its restart', async () => {
    // Default options: the built-in maxFails avoidance (3 failures, 10 s) trips on the refused
    // connects, and must be reset when the active check brings the backend back.
    const { bs, check, lb, rec, p } = await setup({})
    const c = bs[2]!
    const cId = backendOf(lb, c).id
    expect(check.status(cId)).toMatchObject({ up: true, lastResult: 'pass' })

    let killAt = 0
    let restartAt = 0
    let downAt = 0
    let upAt = 0
    const scenario = (async () => {
      await sleep(300)
      killAt = rec.now()
      await c.kill()
      const down = await rec.waitTransition('backend', cId, 'unhealthy', killAt, 2_000)
      downAt = down.at
      expect(down.from).toBe('healthy')
      // Refused connects; a check in flight at the kill may see a reset, a busy machine a timeout.
      expect(down.reason).toMatch(
        /^active:http: (connect ECONNREFUSED|connect ECONNRESET|timeout after 50 ms)/,
      )
      // Dead and marked: half a second of load, and the proxy never picks it.
      await sleep(500)
      restartAt = rec.now()
      await c.restart()
      const up = await rec.waitTransition('backend', cId, 'healthy', restartAt, 2_000)
      upAt = up.at
      expect(up.reason).toBe(`active:http: ${RISE} consecutive successes`)
      // Back: half a second of load for it to take its share.
      await sleep(500)
    })()
    let ended = false
    const results = await Promise.all([
      load((u) => h.get(u), p.url, { workers: 4, maxMs: 5_000, stop: () => ended, pauseMs: 10 }),
      scenario.finally(() => {
        ended = true
      }),
    ]).then(([r]) => r)

    expect(downAt - killAt, 'marked down within fall intervals').toBeLessThanOrEqual(
      FALL * INTERVAL_MS + INTERVAL_MS + SLACK_MS,
    )
    expect(upAt - restartAt, 'marked up within rise intervals').toBeLessThanOrEqual(
      RISE * INTERVAL_MS + INTERVAL_MS + SLACK_MS,
    )
    expect(
      notInPanic(
        rec,
        rec.attemptsOn(cId, downAt).filter((a) => a.startedAt < restartAt),
      ),
      `no pick of the dead backend once it was marked down (transitions: ${JSON.stringify(rec.transitions)})`,
    ).toEqual([])
    // The clients never noticed: the proxy retried the attempts that hit the dead backend.
    expect(results.filter((r) => r.status !== 200)).toEqual([])
    expect(results.length).toBeGreaterThan(50)
    // After it came back it took traffic again, successfully.
    const after = rec.attemptsOn(cId, upAt)
    expect(after.length, 'the restarted backend takes picks again').toBeGreaterThan(5)
    expect(after.every((a) => a.ok)).toBe(true)
    // (the balancer runs on the system clock: `performance.now()`, as the load runner)
    expect(results.some((r) => r.backend === 'b2' && r.at > upAt)).toBe(true)
  })

  it('a /healthz answering 503 takes its backend out while / still answers 200', async () => {
    const { bs, lb, rec, p } = await setup()
    const c = bs[1]!
    const cId = backendOf(lb, c).id
    const since = rec.now()
    c.healthz = 'fail'
    const down = await rec.waitTransition(
      'backend',
      cId,
      'unhealthy',
      since,
      FALL * INTERVAL_MS + INTERVAL_MS + SLACK_MS + 1_000,
    )
    expect(down.reason).toBe(`active:http: status 503 (${FALL} consecutive failures)`)
    expect(down.at - since).toBeLessThanOrEqual(FALL * INTERVAL_MS + INTERVAL_MS + SLACK_MS)
    const hits = c.hits
    for (let i = 0; i < 30; i++) expect((await h.get(`${p.url}/x/${i}`)).status).toBe(200)
    expect(notInPanic(rec, rec.attemptsOn(cId, down.at)), 'no pick of the backend once marked down').toEqual(
      [],
    )
    if (rec.panics.length === 0) expect(c.hits).toBe(hits)
    // `/` itself still works on that backend: the check, not the traffic, took it out.
    expect((await h.get(`${c.url}/direct`)).status).toBe(200)
  })

  it('a /healthz that never answers is timed out and marks its backend down', async () => {
    const { bs, check, lb, rec, p } = await setup()
    const c = bs[0]!
    const cId = backendOf(lb, c).id
    const since = rec.now()
    c.healthz = 'hang'
    // A check now lasts timeoutMs, then the next one starts an interval later.
    const bound = FALL * (INTERVAL_MS + TIMEOUT_MS) + INTERVAL_MS + SLACK_MS
    const down = await rec.waitTransition('backend', cId, 'unhealthy', since, bound + 1_000)
    expect(down.reason).toBe(`active:http: timeout after ${TIMEOUT_MS} ms (${FALL} consecutive failures)`)
    expect(down.at - since).toBeLessThanOrEqual(bound)
    expect(check.status(cId)).toMatchObject({ up: false, lastResult: 'fail' })
    const hits = c.hits
    for (let i = 0; i < 20; i++) expect((await h.get(`${p.url}/x/${i}`)).status).toBe(200)
    expect(notInPanic(rec, rec.attemptsOn(cId, down.at)), 'no pick of the backend once marked down').toEqual(
      [],
    )
    if (rec.panics.length === 0) expect(c.hits).toBe(hits)
  })
})

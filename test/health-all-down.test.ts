/**
 * Every backend down, found by an active HTTP check, behind the HTTP proxy (real loopback sockets,
 * real timers). With panic mode off (`panicThreshold: 0`) the proxy answers fast 503s
 * (`FULCRUM_ERR_NO_BACKEND`, `Retry-After`) without any attempt, and serves again within `rise`
 * checks of one backend's restart. With the default panic mode (`'all'` below 50 % healthy) it
 * routes to every backend anyway: requests fail fast with 502 after refused connects, never hang.
 */
import { type Balancer, type BalancerOptions, createBalancer } from '@fulcrum/core'
import { httpCheck } from '@fulcrum/health'
import { describe, expect, it } from 'vitest'
import { backendOf, healthFixture, Recorder, type RestartableBackend, waitFullyUp } from './health-helpers.js'
import { type Fetched, settledLogs, sleep, waitFor } from './http-failure-helpers.js'

const { h, fleet, track } = healthFixture()

const INTERVAL_MS = 100
const TIMEOUT_MS = 50
const RISE = 2
const FALL = 3
/** Slack for timer and scheduling delays on a loaded machine. */
const SLACK_MS = 300
/** A "fast" answer: nothing waited for a timeout. */
const FAST_MS = 100

async function setup(options: BalancerOptions) {
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
  for (let i = 0; i < 6; i++) expect((await h.get(`${p.url}/warm/${i}`)).status).toBe(200)
  return { bs, lb, rec, p }
}

/** Kills every backend and waits until the check has marked each one down. */
async function killAll<Ctx>(bs: readonly RestartableBackend[], lb: Balancer<Ctx>, rec: Recorder<Ctx>) {
  const killAt = rec.now()
  for (const b of bs) await b.kill()
  await waitFor(
    () => lb.backends().every((b) => b.state === 'unhealthy'),
    FALL * (INTERVAL_MS + TIMEOUT_MS) + 2_000,
    'every backend marked down',
  )
  return killAt
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

async function timed(url: string): Promise<Fetched & { ms: number }> {
  const started = performance.now()
  const res = await h.get(url)
  return { ...res, ms: performance.now() - started }
}

describe('every backend down', () => {
  it('panicThreshold 0: fast 503 FULCRUM_ERR_NO_BACKEND with Retry-After, no attempt; one restart serves again within rise checks', async () => {
    const { bs, lb, rec, p } = await setup({ panicThreshold: 0 })
    const killAt = await killAll(bs, lb, rec)
    expect(lb.snapshot()).toMatchObject({ panic: false, eligible: 0 })
    const downAt = rec.now()
    expect(downAt - killAt).toBeLessThanOrEqual(FALL * INTERVAL_MS + INTERVAL_MS + SLACK_MS)

    const answers: (Fetched & { ms: number })[] = []
    for (let i = 0; i < 10; i++) answers.push(await timed(`${p.url}/down/${i}`))
    for (const a of answers) {
      expect(a.status).toBe(503)
      expect(a.headers['retry-after']).toMatch(/^\d+$/)
    }
    // Answered at once: typically a few ms. One slow answer on a starved machine is a scheduling
    // hiccup, so the median is held to FAST_MS and the slowest one only to "no timeout waited for".
    expect(median(answers.map((a) => a.ms)), '503s answered at once').toBeLessThan(FAST_MS)
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(1_000)
    expect(
      rec.attempts.filter((a) => a.startedAt >= downAt),
      'no upstream attempt',
    ).toEqual([])
    const logs = await settledLogs(p, 6 + answers.length)
    for (const entry of logs.slice(6)) {
      expect(entry).toMatchObject({ status: 503, attempts: 0 })
      expect(entry.error).toMatchObject({ code: 'FULCRUM_ERR_NO_BACKEND', status: 503 })
    }

    // One backend restarted: the check brings it up within rise intervals, and it serves.
    const b1 = bs[1]!
    const restartAt = rec.now()
    await b1.restart()
    let first: Fetched | undefined
    for (let i = 0; i < 200 && first === undefined; i++) {
      const res = await h.get(`${p.url}/up/${i}`)
      if (res.status === 200) first = res
      else {
        expect(res.status).toBe(503)
        await sleep(10)
      }
    }
    const servedAt = rec.now()
    expect(first, 'served again').toBeDefined()
    expect(first!.headers['x-backend']).toBe('b1')
    const up = rec.find('backend', backendOf(lb, b1).id, 'healthy', restartAt)
    expect(up).toBeDefined()
    expect(up!.at - restartAt).toBeLessThanOrEqual(RISE * INTERVAL_MS + INTERVAL_MS + SLACK_MS)
    expect(servedAt - restartAt).toBeLessThanOrEqual(RISE * INTERVAL_MS + INTERVAL_MS + SLACK_MS + FAST_MS)
    for (let i = 0; i < 5; i++) {
      const res = await h.get(`${p.url}/after/${i}`)
      expect(res.status).toBe(200)
      expect(res.headers['x-backend']).toBe('b1')
    }
  })

  it('the default panic mode routes to all of them: fast 502s after refused connects, not a hang', async () => {
    const { bs, lb, rec, p } = await setup({})
    const panics: boolean[] = []
    lb.on('balancer:panic', (e) => panics.push(e.panic))
    await killAll(bs, lb, rec)
    expect(lb.snapshot()).toMatchObject({ panic: true, eligible: 3 })
    expect(panics).toContain(true)
    const downAt = rec.now()

    const answers: (Fetched & { ms: number })[] = []
    for (let i = 0; i < 10; i++) answers.push(await timed(`${p.url}/panic/${i}`))
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(502))
    // Up to three refused connects and two short jittered retry backoffs (≤ 250 ms each), no timeout.
    expect(median(answers.map((a) => a.ms))).toBeLessThan(2 * 250)
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(1_000)
    const logs = await settledLogs(p, 6 + answers.length)
    for (const entry of logs.slice(6)) {
      expect(entry.status).toBe(502)
      expect(entry.attempts).toBeGreaterThanOrEqual(1)
      expect(entry.error).toMatchObject({ code: 'FULCRUM_ERR_UPSTREAM_CONNECT', status: 502 })
    }
    // The unhealthy backends were tried (panic routes to them), every attempt a connect failure.
    const tried = rec.attempts.filter((a) => a.startedAt >= downAt)
    expect(tried.length).toBeGreaterThanOrEqual(answers.length)
    expect(tried.every((a) => !a.ok)).toBe(true)
  })
})

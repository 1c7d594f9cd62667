/**
 * Passive health (`outlierDetection()`, no active check) behind the HTTP proxy, on real loopback
 * sockets and real timers: a backend killed under load costs the clients nothing (the proxy retries
 * its GETs elsewhere), is ejected after `consecutiveFailures` failed attempts, takes no attempt while
 * ejected, and — restarted — returns when its ejection ends and takes traffic again.
 */
import { createBalancer } from '@fulcrum/core'
import { type OutlierDetectionOptions, outlierDetection } from '@fulcrum/health'
import { describe, expect, it } from 'vitest'
import { backendOf, healthFixture, load, Recorder } from './health-helpers.js'
import { sleep } from './http-failure-helpers.js'

const { h, fleet, track } = healthFixture()

/** Slack for timer and scheduling delays on a loaded machine. */
const SLACK_MS = 300
const WORKERS = 4

async function setup(options: OutlierDetectionOptions) {
  const bs = await fleet.backends(3)
  const detector = outlierDetection(options)
  const lb = createBalancer()
    .backends(bs.map((b) => b.url))
    .health(detector)
    .retry({ retries: 2 })
    .build()
  track(lb)
  const rec = new Recorder(lb)
  const p = await h.proxy(lb)
  return { bs, detector, lb, rec, p }
}

/**
 * Runs a 4-worker GET load through `url` while `scenario` runs, and a little after it; returns the
 * load's results once both are done.
 */
async function underLoad(url: string, scenario: () => Promise<void>) {
  let ended = false
  const [results] = await Promise.all([
    load((u) => h.get(u), url, { workers: WORKERS, maxMs: 6_000, stop: () => ended, pauseMs: 10 }),
    scenario().finally(() => {
      ended = true
    }),
  ])
  return results
}

describe('outlier detection through the proxy', () => {
  it('a backend killed under load: no client error, ejected after 5 consecutive failures, then no attempts', async () => {
    const { bs, detector, lb, rec, p } = await setup({ consecutiveFailures: 5 })
    const c = bs[2]!
    const cId = backendOf(lb, c).id
    let killAt = 0
    let ejectAt = 0
    const results = await underLoad(p.url, async () => {
      await sleep(300)
      killAt = rec.now()
      await c.kill()
      const ejected = await rec.waitTransition('backend', cId, 'unhealthy', killAt, 3_000)
      ejectAt = ejected.at
      expect(ejected).toMatchObject({ from: 'healthy', reason: 'outlier: 5 consecutive failures' })
      // Ejected for 30 s by default: the rest of the run must not try it again.
      await sleep(800)
    })

    expect(
      results.filter((r) => r.status !== 200),
      'every GET was answered 200',
    ).toEqual([])
    expect(results.length).toBeGreaterThan(50)
    expect(ejectAt - killAt).toBeLessThan(1_000)
    // It had not failed before the kill. Five failures eject it; requests in flight on it then (at
    // most one per worker) may add to them.
    const failed = rec.attemptsOn(cId).filter((a) => !a.ok)
    expect(failed.length).toBeGreaterThanOrEqual(5)
    expect(failed.length).toBeLessThanOrEqual(5 + WORKERS)
    expect(rec.attemptsOn(cId, ejectAt), 'no attempt on the ejected backend').toEqual([])
    expect(detector.status(cId)).toMatchObject({ ejected: true, timesEjected: 1 })
    expect(detector.ejectedCount).toBe(1)
  })

  it('with baseEjectionMs 500 and the backend restarted, it returns when the ejection ends and takes traffic', async () => {
    const BASE_MS = 500
    const { bs, detector, lb, rec, p } = await setup({
      consecutiveFailures: 3,
      baseEjectionMs: BASE_MS,
      ejectionJitterMs: 0,
    })
    const c = bs[1]!
    const cId = backendOf(lb, c).id
    let killAt = 0
    let ejectAt = 0
    let returnAt = 0
    let hitsAtReturn = 0
    const results = await underLoad(p.url, async () => {
      await sleep(300)
      killAt = rec.now()
      await c.kill()
      const ejected = await rec.waitTransition('backend', cId, 'unhealthy', killAt, 3_000)
      ejectAt = ejected.at
      expect(ejected.reason).toBe('outlier: 3 consecutive failures')
      await c.restart()
      const back = await rec.waitTransition('backend', cId, 'healthy', ejectAt, BASE_MS + SLACK_MS + 1_000)
      returnAt = back.at
      hitsAtReturn = c.hits
      expect(back.reason).toBe(`outlier: ejection of ${BASE_MS} ms ended`)
      await sleep(500)
    })

    expect(
      results.filter((r) => r.status !== 200),
      'every GET was answered 200',
    ).toEqual([])
    expect(returnAt - ejectAt).toBeGreaterThanOrEqual(BASE_MS - 5)
    expect(returnAt - ejectAt).toBeLessThanOrEqual(BASE_MS + SLACK_MS)
    expect(
      rec.attemptsOn(cId, ejectAt).filter((a) => a.startedAt < returnAt),
      'no attempt while ejected (though it was up again)',
    ).toEqual([])
    const after = rec.attemptsOn(cId, returnAt)
    expect(after.length, 'the returned backend takes attempts again').toBeGreaterThan(5)
    expect(after.every((a) => a.ok)).toBe(true)
    expect(c.hits - hitsAtReturn).toBe(after.length)
    expect(detector.status(cId)).toMatchObject({ ejected: false })
  })
})

import { describe, expect, it } from 'vitest'
import { Recorder, summarize } from './recorder.js'

describe('summarize()', () => {
  it('computes exact nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i) // 100 … 1, unsorted
    expect(summarize(xs)).toEqual({ count: 100, min: 1, mean: 50.5, p50: 50, p90: 90, p99: 99, max: 100 })
    expect(summarize([7])).toEqual({ count: 1, min: 7, mean: 7, p50: 7, p90: 7, p99: 7, max: 7 })
    expect(summarize([])).toEqual({ count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 })
  })
})

describe('Recorder', () => {
  it('aggregates attempts, requests and the timeline', () => {
    const rec = new Recorder(['a', 'b'], 100)
    rec.arrival(5)
    rec.attempt('a', 9, { ok: false, error: 'connect' }, 1) // started at 9
    rec.retries++
    rec.attempt('b', 10, { ok: true }, 120) // started at 10
    rec.settled(5, 125, false, undefined)
    rec.arrival(150)
    rec.attempt('b', 150, { ok: false, error: 'cancelled' }, 10)
    rec.settled(150, 10, true, Object.assign(new Error('x'), { code: 'ECONNRESET' }))
    rec.arrival(160)
    expect(rec.pending).toBe(1)
    rec.settled(160, 1, true, 'plain string')
    const r = rec.report(1, 250, 260)
    expect(r.requests).toMatchObject({ total: 3, succeeded: 1, failed: 2, unfinished: 0, retries: 1 })
    expect(r.requests.errors).toEqual({ ECONNRESET: 1, string: 1 })
    expect(r.backends.a).toMatchObject({
      attempts: 1,
      failures: 1,
      share: 1 / 3,
      failuresByKind: { connect: 1 },
    })
    expect(r.backends.b).toMatchObject({ attempts: 2, successes: 1, cancelled: 1, failures: 0 })
    expect(r.timeline.map((b) => b.t)).toEqual([0, 100, 200])
    expect(r.timeline[0]).toEqual({
      t: 0,
      requests: 1,
      failed: 0,
      perBackend: {
        a: { attempts: 1, successes: 0, failures: 1 },
        b: { attempts: 1, successes: 1, failures: 0 },
      },
    })
    expect(r.timeline[1]!.requests).toBe(2)
    expect(r.timeline[1]!.failed).toBe(2)
    expect(r.timeline[1]!.perBackend.b).toEqual({ attempts: 1, successes: 0, failures: 0 })
    expect(r.timeline[2]!.perBackend.a).toEqual({ attempts: 0, successes: 0, failures: 0 })
  })

  it('adds backends it did not know, e.g. added by an action', () => {
    const rec = new Recorder(['a'], 1_000)
    rec.attempt('extra', 10, { ok: true }, 5)
    const r = rec.report(0, 1_000, 10)
    expect(Object.keys(r.backends)).toEqual(['a', 'extra'])
    expect(r.timeline).toHaveLength(1)
    expect(r.timeline[0]!.perBackend.extra!.attempts).toBe(1)
  })
})

import type { Balancer } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { hit, OK_, setup } from './harness.test-support.js'
import { outlierDetection } from './outlier-detection.js'
import { successRateThreshold } from './success-rate.js'

const FAIL = { ok: false, status: 503, error: 'status' } as const

/** `requests` requests on `id`, of which `failures` fail, never 5 in a row. */
function traffic(lb: Balancer, id: string, requests: number, failures: number): void {
  let failed = 0
  for (let i = 0; i < requests; i++) {
    const fail = failed < failures && i % 2 === 0
    if (fail) failed++
    hit(lb, id, fail ? FAIL : OK_)
  }
}

describe('successRateThreshold', () => {
  it('is mean − factor × population σ', () => {
    const s = successRateThreshold([1, 1, 1, 1, 0.6], 1.9)
    expect(s.mean).toBeCloseTo(0.92, 12)
    expect(s.stdev).toBeCloseTo(0.16, 12)
    expect(s.threshold).toBeCloseTo(0.616, 12)
    expect(successRateThreshold([0.9, 0.9], 1.9)).toEqual({ mean: 0.9, stdev: 0, threshold: 0.9 })
  })
})

describe('outlierDetection: success rate', () => {
  it('ejects the one bad host among 5 with enough volume, at the interval tick', () => {
    const detector = outlierDetection({ successRate: true, ejectionJitterMs: 0 })
    const { lb, clock, states } = setup(6, [detector])
    for (const id of ['b0', 'b1', 'b2', 'b3']) traffic(lb, id, 100, 0)
    traffic(lb, 'b4', 100, 40)
    traffic(lb, 'b5', 99, 99 / 2) // below requestVolume: not considered
    clock.advance(9_999)
    expect(detector.ejectedCount).toBe(0)
    clock.advance(1)
    expect(detector.status('b4')).toMatchObject({ ejected: true, timesEjected: 1, ejectedUntil: 40_000 })
    expect(detector.status('b5')!.ejected).toBe(false)
    expect(states).toEqual([
      {
        backend: lb.get('b4'),
        from: 'healthy',
        to: 'unhealthy',
        reason: 'outlier: success rate 0.60 below 0.62 (mean 0.92, 1.9σ)',
      },
    ])
    // The next interval had no traffic: nothing else happens.
    clock.advance(10_000)
    expect(detector.ejectedCount).toBe(1)
  })

  it('ejects nothing with fewer than minHosts hosts of enough volume', () => {
    const detector = outlierDetection({ successRate: { minHosts: 5, requestVolume: 100 } })
    const { lb, clock } = setup(5, [detector])
    for (const id of ['b0', 'b1', 'b2']) traffic(lb, id, 100, 0)
    traffic(lb, 'b3', 100, 45)
    traffic(lb, 'b4', 60, 0) // too little volume
    clock.advance(10_000)
    expect(detector.ejectedCount).toBe(0)
    const four = outlierDetection({ successRate: true })
    const small = setup(4, [four])
    for (const id of ['b0', 'b1', 'b2']) traffic(small.lb, id, 200, 0)
    traffic(small.lb, 'b3', 200, 90)
    small.clock.advance(10_000)
    expect(four.ejectedCount).toBe(0)
  })

  it('counts each interval on its own (the buckets swap)', () => {
    const detector = outlierDetection({ successRate: { minHosts: 3, requestVolume: 10, stdevFactor: 1 } })
    const { lb, clock } = setup(3, [detector])
    traffic(lb, 'b0', 10, 0)
    traffic(lb, 'b1', 10, 0)
    clock.advance(10_000)
    // b2's bad interval comes later, without the others' volume: below minHosts.
    traffic(lb, 'b2', 10, 5)
    clock.advance(10_000)
    expect(detector.ejectedCount).toBe(0)
    for (const id of ['b0', 'b1']) traffic(lb, id, 10, 0)
    traffic(lb, 'b2', 10, 5)
    clock.advance(10_000)
    expect(detector.status('b2')!.ejected).toBe(true)
  })

  it('is off unless configured', () => {
    const detector = outlierDetection()
    const { lb, clock } = setup(5, [detector])
    for (const id of ['b0', 'b1', 'b2', 'b3']) traffic(lb, id, 200, 0)
    traffic(lb, 'b4', 200, 100)
    clock.advance(10_000)
    expect(detector.ejectedCount).toBe(0)
  })
})

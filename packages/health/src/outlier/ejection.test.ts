import { describe, expect, it } from 'vitest'
import { CONNECT, hit, setup } from './harness.test-support.js'
import { outlierDetection } from './outlier-detection.js'

describe('outlierDetection: ejection time, multiplier and cap', () => {
  it('ejects for exactly 30 s, then 60 s, then 90 s on repeated ejections', () => {
    const detector = outlierDetection({ ejectionJitterMs: 0 })
    const { lb, clock, states } = setup(3, [detector])
    let until = 0
    for (const duration of [30_000, 60_000, 90_000]) {
      hit(lb, 'b0', CONNECT, 5)
      until = clock.now() + duration
      expect(detector.status('b0')!.ejectedUntil).toBe(until)
      clock.advance(duration - 1)
      expect(lb.get('b0')!.health).toBe('unhealthy')
      clock.advance(1)
      expect(lb.get('b0')!.health).toBe('healthy')
      expect(states.at(-1)).toMatchObject({
        from: 'unhealthy',
        to: 'healthy',
        reason: `outlier: ejection of ${duration} ms ended`,
      })
    }
    expect(clock.now()).toBe(180_000)
    expect(detector.status('b0')).toMatchObject({ ejected: false, timesEjected: 3, ejectedUntil: undefined })
  })

  it('caps the ejection time at maxEjectionMs', () => {
    const detector = outlierDetection({ ejectionJitterMs: 0, baseEjectionMs: 1_000, maxEjectionMs: 2_500 })
    const { lb, clock } = setup(3, [detector])
    const durations: number[] = []
    for (let i = 0; i < 5; i++) {
      hit(lb, 'b0', CONNECT, 5)
      const d = detector.status('b0')!.ejectedUntil! - clock.now()
      durations.push(d)
      clock.advance(d)
    }
    expect(durations).toEqual([1_000, 2_000, 2_500, 2_500, 2_500])
    expect(detector.status('b0')!.timesEjected).toBe(3)
  })

  it('shrinks the multiplier by one per full interval back in service', () => {
    const detector = outlierDetection({ ejectionJitterMs: 0 })
    const { lb, clock } = setup(3, [detector])
    hit(lb, 'b0', CONNECT, 5)
    clock.advance(30_000)
    hit(lb, 'b0', CONNECT, 5) // 60 s, back at 90 s
    clock.advance(60_000)
    expect(detector.status('b0')!.timesEjected).toBe(2)
    clock.advance(9_999) // the tick at 90 s came too soon after the return
    expect(detector.status('b0')!.timesEjected).toBe(2)
    clock.advance(1) // tick at 100 s: a full interval in service
    expect(detector.status('b0')!.timesEjected).toBe(1)
    hit(lb, 'b0', CONNECT, 5)
    expect(detector.status('b0')!.ejectedUntil! - clock.now()).toBe(60_000) // not 90 s
    clock.advance(60_000 + 20_000)
    expect(detector.status('b0')!.timesEjected).toBe(0)
    hit(lb, 'b0', CONNECT, 5)
    expect(detector.status('b0')!.ejectedUntil! - clock.now()).toBe(30_000)
  })

  it('adds a jitter uniform in [0, ejectionJitterMs] whole ms', () => {
    const detector = outlierDetection({ ejectionJitterMs: 1_000, baseEjectionMs: 1_000 })
    const { lb, clock, states } = setup(3, [detector])
    hit(lb, 'b0', CONNECT, 5)
    const d = detector.status('b0')!.ejectedUntil!
    expect(d).toBeGreaterThanOrEqual(1_000)
    expect(d).toBeLessThanOrEqual(2_000)
    expect(Number.isInteger(d)).toBe(true)
    clock.advance(d)
    expect(states.at(-1)!.reason).toBe(`outlier: ejection of ${d} ms ended`)
  })

  it('ejects at most maxEjectionPercent at once: one of 10 at 10 %, two of 20', () => {
    const detector = outlierDetection({ ejectionJitterMs: 0 })
    const { lb, clock } = setup(10, [detector])
    hit(lb, 'b0', CONNECT, 5)
    hit(lb, 'b1', CONNECT, 5)
    expect(detector.status('b0')!.ejected).toBe(true)
    expect(detector.status('b1')).toMatchObject({ ejected: false, consecutiveFailures: 0, timesEjected: 0 })
    expect(detector.ejectedCount).toBe(1)
    expect(detector.skippedEjections).toBe(1)
    clock.advance(30_000)
    hit(lb, 'b1', CONNECT, 5)
    expect(detector.status('b1')!.ejected).toBe(true)

    const twenty = outlierDetection()
    const big = setup(20, [twenty])
    for (const id of ['b0', 'b1', 'b2']) hit(big.lb, id, CONNECT, 5)
    expect(twenty.ejectedCount).toBe(2)
    expect(twenty.skippedEjections).toBe(1)
  })

  it('always lets one backend be ejected, even when that exceeds the percentage', () => {
    const detector = outlierDetection()
    const { lb } = setup(3, [detector])
    hit(lb, 'b0', CONNECT, 5)
    hit(lb, 'b1', CONNECT, 5)
    expect(detector.status('b0')!.ejected).toBe(true)
    expect(detector.status('b1')!.ejected).toBe(false)
    expect(detector.skippedEjections).toBe(1)
    expect(lb.snapshot().eligible).toBe(2)
  })
})

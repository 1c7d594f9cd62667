import type { Outcome } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { CONNECT, hit, OK_, setup } from './harness.test-support.js'
import { outlierDetection } from './outlier-detection.js'

describe('outlierDetection: consecutive failures', () => {
  it('ejects after exactly 5 consecutive failures, with a backend:state event', () => {
    const detector = outlierDetection({ ejectionJitterMs: 0 })
    const { lb, states } = setup(3, [detector])
    hit(lb, 'b0', CONNECT, 4)
    expect(detector.status('b0')).toEqual({
      ejected: false,
      timesEjected: 0,
      ejectedUntil: undefined,
      consecutiveFailures: 4,
    })
    expect(lb.get('b0')!.health).toBe('healthy')
    hit(lb, 'b0', CONNECT)
    expect(detector.status('b0')).toEqual({
      ejected: true,
      timesEjected: 1,
      ejectedUntil: 30_000,
      consecutiveFailures: 0,
    })
    expect(detector.ejectedCount).toBe(1)
    expect(lb.get('b0')!.unhealthyReasons.get('outlier')).toBe('5 consecutive failures')
    expect(states).toEqual([
      { backend: lb.get('b0'), from: 'healthy', to: 'unhealthy', reason: 'outlier: 5 consecutive failures' },
    ])
  })

  it('does not eject after 4 failures, a success, and 4 failures', () => {
    const detector = outlierDetection()
    const { lb } = setup(3, [detector])
    hit(lb, 'b0', CONNECT, 4)
    hit(lb, 'b0', OK_)
    hit(lb, 'b0', { ok: false, status: 503, error: 'status' }, 4)
    expect(detector.status('b0')).toMatchObject({ ejected: false, consecutiveFailures: 4 })
    hit(lb, 'b0', { ok: false, error: 'timeout' })
    expect(detector.status('b0')!.ejected).toBe(true)
  })

  it('never counts cancelled or overload outcomes, nor lets them reset the count', () => {
    const detector = outlierDetection()
    const { lb } = setup(3, [detector])
    hit(lb, 'b1', { ok: false, error: 'cancelled' }, 20)
    hit(lb, 'b1', { ok: false, error: 'overload' }, 20)
    expect(detector.status('b1')).toMatchObject({ ejected: false, consecutiveFailures: 0 })
    hit(lb, 'b0', CONNECT, 4)
    hit(lb, 'b0', { ok: false, error: 'cancelled' })
    hit(lb, 'b0', { ok: false, error: 'overload' })
    expect(detector.status('b0')!.consecutiveFailures).toBe(4)
    hit(lb, 'b0', { ok: false, error: 'reset' })
    expect(detector.status('b0')!.ejected).toBe(true)
  })

  it('counts an outcome without error kind as error, and protocol failures', () => {
    const detector = outlierDetection({ consecutiveFailures: 2 })
    const { lb } = setup(3, [detector])
    hit(lb, 'b0', { ok: false })
    hit(lb, 'b0', { ok: false, error: 'protocol' })
    expect(detector.status('b0')!.ejected).toBe(true)
  })

  it('honours custom failureKinds', () => {
    const detector = outlierDetection({ failureKinds: ['connect'], consecutiveFailures: 3 })
    const { lb } = setup(3, [detector])
    hit(lb, 'b0', { ok: false, status: 500, error: 'status' }, 10)
    expect(detector.status('b0')).toMatchObject({ ejected: false, consecutiveFailures: 0 })
    hit(lb, 'b0', CONNECT, 3)
    expect(detector.status('b0')!.ejected).toBe(true)
  })

  it('lets isFailure override failureKinds, e.g. slow successes count', () => {
    const seen: number[] = []
    const isFailure = (o: Outcome, latencyMs: number): boolean => {
      seen.push(latencyMs)
      return !o.ok || latencyMs > 1_000
    }
    const detector = outlierDetection({ consecutiveFailures: 3, isFailure, failureKinds: ['connect'] })
    const { lb } = setup(3, [detector])
    hit(lb, 'b0', { ok: true, latencyMs: 5_000 }, 2)
    hit(lb, 'b0', { ok: true, latencyMs: 10 })
    hit(lb, 'b0', { ok: false, error: 'cancelled' })
    expect(detector.status('b0')!.consecutiveFailures).toBe(0)
    hit(lb, 'b0', { ok: true, latencyMs: 2_000 }, 2)
    hit(lb, 'b0', { ok: false, error: 'status' })
    expect(detector.status('b0')!.ejected).toBe(true)
    expect(seen).toEqual([5_000, 5_000, 10, 2_000, 2_000, 0])
  })

  it('keeps counting across a weight change, and consecutiveFailures 0 disables the detector', () => {
    const detector = outlierDetection()
    const { lb } = setup(3, [detector])
    hit(lb, 'b0', CONNECT, 3)
    lb.setWeight('b0', 3)
    hit(lb, 'b0', CONNECT, 2)
    expect(detector.status('b0')!.ejected).toBe(true)
    const off = outlierDetection({ consecutiveFailures: 0 })
    const other = setup(3, [off])
    hit(other.lb, 'b0', CONNECT, 50)
    expect(off.status('b0')!.ejected).toBe(false)
    expect(other.lb.get('b0')!.health).toBe('healthy')
  })

  it('turns off the built-in maxFails avoidance (passive)', () => {
    const detector = outlierDetection({ consecutiveFailures: 0 })
    expect(detector.passive).toBe(true)
    const { lb } = setup(2, [detector])
    hit(lb, 'b0', CONNECT, 10)
    // With maxFails at its default 3, b0 would now be skipped; with outlier detection it is not.
    const seen = new Set<string>()
    for (let i = 0; i < 50; i++) {
      const lease = lb.pick()
      seen.add(lease.backend!.id)
      lease.release()
    }
    expect(seen.has('b0')).toBe(true)
  })
})

import { NoBackendError, type PanicEvent } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { CONNECT, hit, manualHealth, recordingSink, setup, shares } from './outlier/harness.test-support.js'
import { outlierDetection } from './outlier/outlier-detection.js'

describe('panic mode with health sources', () => {
  it('routes to unhealthy backends while fewer than 50 % are healthy, and stops when they recover', () => {
    const health = manualHealth()
    const { lb } = setup(4, [health])
    const events: PanicEvent[] = []
    lb.on('balancer:panic', (e) => events.push(e))
    health.set('b0', false)
    health.set('b1', false) // 2 of 4 healthy: not below 50 %
    expect(lb.snapshot().panic).toBe(false)
    expect(Object.keys(shares(lb, 200)).sort()).toEqual(['b2', 'b3'])
    health.set('b2', false) // 1 of 4
    expect(lb.snapshot()).toMatchObject({ panic: true, eligible: 4 })
    expect(Object.keys(shares(lb, 400)).sort()).toEqual(['b0', 'b1', 'b2', 'b3'])
    health.set('b0', true)
    expect(lb.snapshot().panic).toBe(false)
    expect(Object.keys(shares(lb, 200)).sort()).toEqual(['b0', 'b3'])
    expect(events).toEqual([
      { panic: true, healthy: 1, total: 4 },
      { panic: false, healthy: 2, total: 4 },
    ])
  })

  it('enters panic through outlier ejections and leaves it when they end', () => {
    const detector = outlierDetection({ maxEjectionPercent: 100, ejectionJitterMs: 0 })
    const { lb, clock } = setup(3, [detector])
    const events: PanicEvent[] = []
    lb.on('balancer:panic', (e) => events.push(e))
    hit(lb, 'b0', CONNECT, 5)
    expect(lb.snapshot().panic).toBe(false)
    hit(lb, 'b1', CONNECT, 5)
    expect(lb.snapshot().panic).toBe(true)
    expect(shares(lb, 300).b0).toBeGreaterThan(0)
    clock.advance(30_000)
    expect(lb.snapshot().panic).toBe(false)
    expect(events.map((e) => e.panic)).toEqual([true, false])
  })

  it("panicMode 'fail' fails every pick fast with NoBackendError during panic", () => {
    const health = manualHealth()
    const { lb } = setup(4, [health], { panicMode: 'fail' })
    for (const id of ['b0', 'b1', 'b2']) health.set(id, false)
    expect(lb.snapshot().panic).toBe(true)
    expect(() => lb.pick()).toThrow(NoBackendError)
    expect(() => lb.pick()).toThrow(expect.objectContaining({ code: 'FULCRUM_ERR_NO_BACKEND' }))
    health.set('b1', true)
    expect(lb.pick().backend!.health).toBe('healthy')
  })

  it('panicThreshold 0 uses only healthy backends, and none left means NoBackendError', () => {
    const health = manualHealth()
    const { lb } = setup(4, [health], { panicThreshold: 0 })
    for (const id of ['b0', 'b1', 'b2']) health.set(id, false)
    expect(lb.snapshot().panic).toBe(false)
    expect(Object.keys(shares(lb, 100))).toEqual(['b3'])
    health.set('b3', false)
    expect(() => lb.pick()).toThrow(expect.objectContaining({ code: 'FULCRUM_ERR_NO_BACKEND' }))
  })

  it('sets the fulcrum_balancer_panic gauge to 1, then 0', () => {
    const health = manualHealth()
    const sink = recordingSink()
    setup(2, [health], { name: 'api', panicThreshold: 0.6 }, sink)
    health.set('b0', false) // 1 of 2 healthy: below 60 %
    health.set('b0', true)
    const panic = sink.gauges.filter((g) => g.name === 'fulcrum_balancer_panic')
    expect(panic.map((g) => g.value)).toEqual([0, 1, 0])
    expect(panic[1]!.labels).toEqual({ balancer: 'api' })
  })
})

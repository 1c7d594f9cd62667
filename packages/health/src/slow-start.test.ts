import { InvalidOptionError, sharedScheduler } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { manualHealth, setup, shares } from './outlier/harness.test-support.js'
import { slowStart, slowStartFactor } from './slow-start.js'

const extra = { id: 'b9', host: '127.0.0.1', port: 9009 }

describe('slowStartFactor', () => {
  it('floors at minWeightPercent, ramps linearly, bends with aggression, reaches 1 at the window', () => {
    expect(slowStartFactor(0, 10_000)).toBe(0.1)
    expect(slowStartFactor(500, 10_000)).toBe(0.1)
    expect(slowStartFactor(2_500, 10_000)).toBe(0.25)
    expect(slowStartFactor(7_500, 10_000)).toBe(0.75)
    expect(slowStartFactor(10_000, 10_000)).toBe(1)
    expect(slowStartFactor(2_500, 10_000, 10, 2)).toBe(0.5)
    expect(slowStartFactor(1_000, 10_000, 10, 2)).toBeCloseTo(Math.sqrt(0.1), 12)
    expect(slowStartFactor(100, 10_000, 10, 2)).toBe(0.1)
    expect(slowStartFactor(0, 10_000, 0)).toBe(1e-4)
    expect(slowStartFactor(0, 1e9, 0, 0.01)).toBe(1e-6)
  })
})

describe('slowStart', () => {
  it('ramps a backend added at runtime on the step schedule, and ends at the window', () => {
    const slow = slowStart({ windowMs: 10_000, stepMs: 1_000 })
    const { lb, clock } = setup(2, [slow])
    expect(slow.factorOf('b0')).toBe(1)
    expect(slow.inSlowStart('b0')).toBe(false)
    const b = lb.add(extra)
    expect(slow.inSlowStart('b9')).toBe(true)
    const seen: number[] = [slow.factorOf('b9')]
    for (let t = 1_000; t <= 10_000; t += 1_000) {
      clock.advance(1_000)
      seen.push(slow.factorOf('b9'))
      expect(b.weightFactor).toBe(slow.factorOf('b9'))
    }
    expect(seen.map((f) => Math.round(f * 100) / 100)).toEqual([
      0.1, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1,
    ])
    expect(b.effectiveWeight).toBe(1)
    expect(slow.inSlowStart('b9')).toBe(false)
    expect(sharedScheduler(clock).size).toBe(0)
  })

  it('follows the aggression curve and ends exactly at the window between steps', () => {
    const slow = slowStart({ windowMs: 10_000, stepMs: 3_000, aggression: 2, minWeightPercent: 20 })
    const { lb, clock } = setup(1, [slow])
    lb.add(extra)
    expect(slow.factorOf('b9')).toBe(0.2)
    clock.advance(3_000)
    expect(slow.factorOf('b9')).toBe(Math.sqrt(0.3))
    clock.advance(2_999) // no step yet
    expect(slow.factorOf('b9')).toBe(Math.sqrt(0.3))
    clock.advance(1)
    expect(slow.factorOf('b9')).toBe(Math.sqrt(0.6))
    clock.advance(3_999) // steps at 9 s, then at the window's end (10 s), not at 12 s
    expect(slow.factorOf('b9')).toBe(Math.sqrt(0.9))
    clock.advance(1)
    expect(slow.factorOf('b9')).toBe(1)
    expect(slow.inSlowStart('b9')).toBe(false)
  })

  it('never ramps the members present at build', () => {
    const slow = slowStart()
    const { lb, clock } = setup(3, [slow])
    for (const b of lb.backends()) expect(b.weightFactor).toBe(1)
    expect(sharedScheduler(clock).size).toBe(0)
  })

  it('ramps a backend that recovers; leaves when it turns unhealthy, restarting on recovery', () => {
    const health = manualHealth()
    const slow = slowStart({ windowMs: 10_000, stepMs: 1_000 })
    const { lb, clock } = setup(3, [health, slow])
    const b0 = lb.get('b0')!
    health.set('b0', false)
    expect(slow.inSlowStart('b0')).toBe(false)
    health.set('b0', true)
    expect(b0.weightFactor).toBe(0.1)
    clock.advance(5_000)
    expect(b0.weightFactor).toBe(0.5)
    health.set('b0', false)
    expect(slow.inSlowStart('b0')).toBe(false)
    expect(b0.weightFactor).toBe(1)
    expect(sharedScheduler(clock).size).toBe(0)
    clock.advance(1_000)
    health.set('b0', true)
    expect(b0.weightFactor).toBe(0.1)
    clock.advance(3_000)
    expect(b0.weightFactor).toBeCloseTo(0.3, 12)
  })

  it('ramps after maintenance (disabled → healthy) but not after a drain', () => {
    const slow = slowStart({ windowMs: 10_000 })
    const { lb } = setup(3, [slow])
    lb.drain('b0')
    lb.enable('b0')
    expect(slow.inSlowStart('b0')).toBe(false)
    lb.disable('b1')
    lb.enable('b1')
    expect(slow.factorOf('b1')).toBe(0.1)
  })

  it('leaves when the backend is removed, resetting its factor; a re-add ramps again', () => {
    const slow = slowStart({ windowMs: 10_000, stepMs: 1_000 })
    const { lb, clock } = setup(2, [slow])
    const b = lb.add(extra)
    clock.advance(4_000)
    lb.remove('b9')
    expect(slow.inSlowStart('b9')).toBe(false)
    expect(b.weightFactor).toBe(1)
    expect(sharedScheduler(clock).size).toBe(0)
    expect(lb.add(extra).weightFactor).toBe(0.1)
  })

  it('gives a ramping backend a p2c traffic share that follows its factor', () => {
    const slow = slowStart({ windowMs: 10_000, stepMs: 1_000 })
    const { lb, clock } = setup(2, [slow])
    lb.add(extra)
    const share = () => (shares(lb, 4_000).b9 ?? 0) / 4_000
    expect(share()).toBeCloseTo(0.1 / 2.1, 1)
    clock.advance(5_000)
    expect(share()).toBeCloseTo(0.5 / 2.5, 1)
    clock.advance(5_000)
    expect(share()).toBeCloseTo(1 / 3, 1)
  })

  it('cancels its step on close() and validates its options', async () => {
    const slow = slowStart({ windowMs: 10_000 })
    const { lb, clock } = setup(2, [slow])
    lb.add(extra)
    expect(sharedScheduler(clock).size).toBe(1)
    await lb.close()
    expect(sharedScheduler(clock).size).toBe(0)
    for (const [options, path] of [
      [{ windowMs: 0 }, 'slowStart.windowMs'],
      [{ minWeightPercent: 101 }, 'slowStart.minWeightPercent'],
      [{ aggression: 0 }, 'slowStart.aggression'],
      [{ stepMs: -1 }, 'slowStart.stepMs'],
      [{ window: 1 }, 'slowStart.window'],
    ] as const)
      expect(() => slowStart(options as never)).toThrow(expect.objectContaining({ path }))
    expect(() => setup(1, [slow])).toThrow(InvalidOptionError)
  })
})

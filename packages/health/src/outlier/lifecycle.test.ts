import { BackendSet, createBalancer, InvalidOptionError, type Lease, sharedScheduler } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { CONNECT, hit, manualHealth, setup, shares, specs } from './harness.test-support.js'
import { outlierDetection } from './outlier-detection.js'

describe('outlierDetection: lifecycle', () => {
  it('returns an ejected backend early when an active check passes', () => {
    const detector = outlierDetection()
    const active = manualHealth()
    const { lb, states } = setup(3, [active, detector])
    hit(lb, 'b0', CONNECT, 5)
    active.check('b0', false)
    active.check('b1', true)
    expect(detector.status('b0')!.ejected).toBe(true)
    active.check('b0', true)
    expect(detector.status('b0')).toMatchObject({ ejected: false, timesEjected: 1 })
    expect(detector.ejectedCount).toBe(0)
    expect(states.at(-1)).toMatchObject({
      backend: lb.get('b0'),
      from: 'unhealthy',
      to: 'healthy',
      reason: 'outlier: active check passed',
    })
    const keep = outlierDetection({ unejectOnActiveCheck: false })
    const other = manualHealth()
    const second = setup(3, [other, keep])
    hit(second.lb, 'b0', CONNECT, 5)
    other.check('b0', true)
    expect(keep.status('b0')!.ejected).toBe(true)
  })

  it('close() cancels the interval and every pending ejection end', async () => {
    const detector = outlierDetection()
    const { lb, clock } = setup(3, [detector])
    hit(lb, 'b0', CONNECT, 5)
    const scheduler = sharedScheduler(clock)
    expect(scheduler.size).toBe(2)
    await lb.close()
    expect(scheduler.size).toBe(0)
    expect(clock.pendingTimers).toBe(0)
  })

  it('forgets a removed backend, ignores its late releases, and resumes its ejection when re-added', () => {
    const detector = outlierDetection({ ejectionJitterMs: 0 })
    const { lb, clock } = setup(3, [detector])
    const scheduler = sharedScheduler(clock)
    hit(lb, 'b0', CONNECT, 5)
    lb.remove('b0')
    expect(detector.status('b0')).toBeUndefined()
    expect(detector.ejectedCount).toBe(0)
    expect(scheduler.size).toBe(1) // only the interval task
    clock.advance(10_000)
    lb.add(specs(1)[0]!) // the pool revives b0, its outlier verdict included
    expect(lb.get('b0')!.health).toBe('unhealthy')
    expect(detector.status('b0')).toMatchObject({ ejected: true, ejectedUntil: 30_000 })
    expect(detector.ejectedCount).toBe(1)
    clock.advance(20_000)
    expect(lb.get('b0')!.health).toBe('healthy')

    // Requests in flight when the backend is removed do not count against it.
    const others = new BackendSet()
    for (const b of lb.backends()) if (b.id !== 'b1') others.add(b)
    const held: Lease[] = []
    for (let i = 0; i < 5; i++) held.push(lb.pick(undefined, others))
    expect(held.every((l) => l.backend!.id === 'b1')).toBe(true)
    lb.remove('b1')
    for (const l of held) l.release(CONNECT)
    expect(detector.ejectedCount).toBe(0)
    lb.add(specs(2)[1]!)
    expect(detector.status('b1')).toMatchObject({ ejected: false, consecutiveFailures: 0 })
  })

  it('returns a re-added backend whose ejection ended while it was out', () => {
    const detector = outlierDetection({ ejectionJitterMs: 0 })
    const { lb, clock, states } = setup(3, [detector])
    hit(lb, 'b0', CONNECT, 5)
    lb.remove('b0')
    clock.advance(40_000)
    lb.add(specs(1)[0]!)
    expect(lb.get('b0')!.health).toBe('healthy')
    expect(detector.status('b0')!.ejected).toBe(false)
    expect(states.at(-1)!.reason).toBe('outlier: ejection of 30000 ms ended')
  })

  it('starts afresh when another backend takes a removed id', () => {
    const detector = outlierDetection()
    const { lb } = setup(3, [detector])
    hit(lb, 'b0', CONNECT, 5)
    lb.remove('b0')
    lb.add({ id: 'b0', host: '127.0.0.2', port: 80 })
    expect(lb.get('b0')!.health).toBe('healthy')
    expect(detector.status('b0')).toMatchObject({ ejected: false, timesEjected: 0 })
  })

  it('still routes to ejected backends in panic mode, without counting their releases', () => {
    const detector = outlierDetection({ maxEjectionPercent: 100, ejectionJitterMs: 0 })
    const { lb } = setup(3, [detector])
    hit(lb, 'b0', CONNECT, 5)
    hit(lb, 'b1', CONNECT, 5)
    expect(lb.snapshot().panic).toBe(true)
    const counts = shares(lb, 300)
    expect(counts.b0).toBeGreaterThan(50)
    expect(counts.b1).toBeGreaterThan(50)
    hit(lb, 'b0', CONNECT, 20)
    expect(detector.status('b0')).toMatchObject({ ejected: true, timesEjected: 1, ejectedUntil: 30_000 })
  })

  it('serves one balancer only', () => {
    const detector = outlierDetection()
    createBalancer().backends(specs(2)).health(detector).build()
    expect(() => createBalancer().backends(specs(2)).health(detector).build()).toThrow(InvalidOptionError)
    // Usable with any pick context type.
    const typed = createBalancer<{ tenant: string }>().backends(specs(2)).health(outlierDetection()).build()
    expect(typed.pick({ tenant: 't' }).backend).toBeDefined()
  })

  it('validates its options, naming the path', () => {
    const bad: [unknown, string][] = [
      [{ consecutiveFailures: -1 }, 'outlierDetection.consecutiveFailures'],
      [{ consecutiveFailures: 1.5 }, 'outlierDetection.consecutiveFailures'],
      [{ failureKinds: ['cancelled'] }, 'outlierDetection.failureKinds[0]'],
      [{ failureKinds: 'connect' }, 'outlierDetection.failureKinds'],
      [{ isFailure: 1 }, 'outlierDetection.isFailure'],
      [{ successRate: { minHost: 3 } }, 'outlierDetection.successRate.minHost'],
      [{ successRate: { stdevFactor: -1 } }, 'outlierDetection.successRate.stdevFactor'],
      [{ intervalMs: 0 }, 'outlierDetection.intervalMs'],
      [{ baseEjectionMs: Number.NaN }, 'outlierDetection.baseEjectionMs'],
      [{ maxEjectionPercent: 101 }, 'outlierDetection.maxEjectionPercent'],
      [{ ejectionJitterMs: -1 }, 'outlierDetection.ejectionJitterMs'],
      [{ unejectOnActiveCheck: 'yes' }, 'outlierDetection.unejectOnActiveCheck'],
      [{ consecutive: 5 }, 'outlierDetection.consecutive'],
    ]
    for (const [options, path] of bad) {
      expect(() => outlierDetection(options as never), path).toThrow(
        expect.objectContaining({ code: 'FULCRUM_ERR_INVALID_OPTION', path }),
      )
    }
  })
})

import { InvalidOptionError, NoBackendError, sharedScheduler } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { CONNECT, run, setup, specs, steps } from './breaker.test-support.js'
import { circuitBreaker } from './circuit-breaker.js'

const consecutive = (n = 5) => circuitBreaker({ consecutiveFailures: n, failureRatio: 0 })

/** Opens `a` with 5 consecutive failures (a is picked first while closed). */
function openA(lb: ReturnType<typeof setup>['lb']) {
  expect(run(lb, 5, CONNECT)).toEqual(['a', 'a', 'a', 'a', 'a'])
}

describe('circuitBreaker: closed → open', () => {
  it('opens after exactly N consecutive failures, not after N−1 and a success', () => {
    const breaker = consecutive()
    const { lb, transitions } = setup([breaker])
    run(lb, 4, CONNECT)
    run(lb, 1)
    run(lb, 4, CONNECT)
    expect(breaker.stateOf('a')).toMatchObject({ state: 'closed', consecutiveFailures: 4, opens: 0 })
    expect(transitions).toEqual([])
    run(lb, 1, CONNECT)
    expect(breaker.stateOf('a')).toMatchObject({ state: 'open', consecutiveFailures: 5, opens: 1 })
    expect(steps(transitions)).toEqual([['a', 'closed', 'open', '5 consecutive failures']])
    expect(run(lb, 3)).toEqual(['b', 'b', 'b'])
  })

  it('opens on the failure ratio only once the window holds minRequests', () => {
    const breaker = circuitBreaker({ consecutiveFailures: 0, failureRatio: 0.5, minRequests: 20 })
    const { lb, transitions } = setup([breaker])
    // f, ok, f, ok … : 19 requests, 10 failures (53 %), but fewer than minRequests.
    for (let i = 0; i < 19; i++) run(lb, 1, i % 2 === 0 ? CONNECT : { ok: true })
    run(lb, 1) // 20 requests, 50 %, but a success never trips
    expect(breaker.stateOf('a')!.state).toBe('closed')
    run(lb, 1, CONNECT) // 11 / 21
    expect(steps(transitions)).toEqual([['a', 'closed', 'open', 'failure ratio 0.52 ≥ 0.5 over 21 requests']])
  })

  it('defaults: 5 in a row, or 50 % over ≥ 20 requests in 10 s', () => {
    const breaker = circuitBreaker()
    const { lb, transitions } = setup([breaker])
    for (let i = 0; i < 21; i++) run(lb, 1, i % 2 === 0 ? CONNECT : { ok: true })
    run(lb, 5, CONNECT) // b
    expect(steps(transitions)).toEqual([
      ['a', 'closed', 'open', 'failure ratio 0.52 ≥ 0.5 over 21 requests'],
      ['b', 'closed', 'open', '5 consecutive failures'],
    ])
  })

  it('forgets requests older than windowMs', () => {
    const breaker = circuitBreaker({
      consecutiveFailures: 0,
      failureRatio: 0.5,
      minRequests: 10,
      windowMs: 10_000,
    })
    const { lb, clock } = setup([breaker])
    run(lb, 9, CONNECT)
    clock.advance(10_001)
    run(lb, 9, CONNECT) // only 9 in the window
    expect(breaker.stateOf('a')!.state).toBe('closed')
    run(lb, 1, CONNECT)
    expect(breaker.stateOf('a')!.state).toBe('open')
  })

  it('counts neither cancelled nor overloaded attempts', () => {
    const breaker = consecutive(3)
    const { lb } = setup([breaker])
    run(lb, 2, CONNECT)
    run(lb, 1, { ok: false, error: 'cancelled' })
    run(lb, 1, { ok: false, error: 'overload' })
    expect(breaker.stateOf('a')!.consecutiveFailures).toBe(2)
    run(lb, 1, CONNECT)
    expect(breaker.stateOf('a')!.state).toBe('open')
  })
})

describe('circuitBreaker: open', () => {
  it('vetoes an open backend; with every backend open the pick fails with NoBackendError', () => {
    const breaker = consecutive()
    const { lb } = setup([breaker])
    openA(lb)
    expect(run(lb, 5, CONNECT)).toEqual(['b', 'b', 'b', 'b', 'b'])
    expect(run(lb, 5, CONNECT)).toEqual(['c', 'c', 'c', 'c', 'c'])
    expect(() => lb.pick()).toThrow(NoBackendError)
  })

  it('backs off 5 s, 10 s, 20 s … (equal jitter), capped at 300 s, and resets after closing', () => {
    const breaker = consecutive()
    const { lb, clock, transitions } = setup([breaker], ['a'])
    openA(lb)
    for (let step = 0; step < 10; step++) {
      const s = breaker.stateOf('a')!
      const ceiling = Math.min(300_000, 5_000 * 2 ** step)
      const delay = s.openUntil! - clock.now()
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2)
      expect(delay).toBeLessThan(ceiling)
      expect(s.opens).toBe(step + 1)
      clock.advance(delay - 1)
      expect(() => lb.pick()).toThrow(NoBackendError)
      clock.advance(1)
      expect(breaker.stateOf('a')!.state).toBe('half-open')
      expect(transitions.at(-1)!.reason).toBe(`backoff of ${Math.round(delay)} ms elapsed`)
      run(lb, 1, CONNECT) // the probe fails
      expect(steps(transitions.slice(-1))).toEqual([['a', 'half-open', 'open', 'probe failed']])
    }
    clock.advance(breaker.stateOf('a')!.openUntil! - clock.now())
    run(lb, 1)
    expect(breaker.stateOf('a')).toMatchObject({ state: 'closed', opens: 0, consecutiveFailures: 0 })
    openA(lb)
    const delay = breaker.stateOf('a')!.openUntil! - clock.now()
    expect(delay).toBeGreaterThanOrEqual(2_500)
    expect(delay).toBeLessThan(5_000)
  })
})

describe('circuitBreaker: half-open', () => {
  it.each([1, 3])('admits exactly halfOpenProbes = %i concurrent probes', (probes) => {
    const breaker = circuitBreaker({ consecutiveFailures: 5, failureRatio: 0, halfOpenProbes: probes })
    const { lb, clock, transitions } = setup([breaker])
    openA(lb)
    clock.advance(5_000)
    expect(breaker.stateOf('a')!.state).toBe('half-open')
    const leases = Array.from({ length: probes + 1 }, () => lb.pick())
    expect(leases.map((l) => l.backend!.id)).toEqual([...Array(probes).fill('a'), 'b'])
    expect(breaker.stateOf('a')!.probesInFlight).toBe(probes)
    for (const l of leases.slice(0, -1)) l.release()
    const reason = probes === 1 ? '1 probe succeeded' : `${probes} probes succeeded`
    expect(steps(transitions).at(-1)).toEqual(['a', 'half-open', 'closed', reason])
    expect(breaker.stateOf('a')).toMatchObject({ state: 'closed', probesInFlight: 0, opens: 0 })
    expect(run(lb, 2)).toEqual(['a', 'a'])
  })

  it('re-admits a probe whose attempt was cancelled', () => {
    const breaker = consecutive()
    const { lb, clock } = setup([breaker])
    openA(lb)
    clock.advance(5_000)
    expect(run(lb, 1, { ok: false, error: 'cancelled' })).toEqual(['a'])
    expect(breaker.stateOf('a')).toMatchObject({ state: 'half-open', probesInFlight: 0 })
    expect(run(lb, 1)).toEqual(['a'])
    expect(breaker.stateOf('a')!.state).toBe('closed')
  })

  it('ignores stragglers: requests in flight when it opened are not taken for probes', () => {
    const breaker = consecutive()
    const { lb, clock, transitions } = setup([breaker])
    const early = [lb.pick(), lb.pick(), lb.pick()]
    openA(lb)
    early[0]!.release() // while open
    clock.advance(5_000)
    early[1]!.release(CONNECT) // while half-open, before any probe
    expect(breaker.stateOf('a')!.state).toBe('half-open')
    const probe = lb.pick()
    expect(probe.backend!.id).toBe('a')
    early[2]!.release(CONNECT) // a straggler, though a probe is in flight
    expect(breaker.stateOf('a')).toMatchObject({ state: 'half-open', probesInFlight: 1 })
    probe.release()
    expect(steps(transitions).map((s) => s[2])).toEqual(['open', 'half-open', 'closed'])
  })
})

describe('circuitBreaker: what counts as a failure', () => {
  it('failureStatuses count ok responses with a listed status', () => {
    const breaker = circuitBreaker({
      consecutiveFailures: 3,
      failureRatio: 0,
      failureStatuses: [429, [500, 599]],
    })
    const { lb } = setup([breaker])
    run(lb, 1, { ok: true, status: 503 })
    run(lb, 1, { ok: true, status: 429 })
    run(lb, 1, { ok: true, status: 404 })
    expect(breaker.stateOf('a')!.consecutiveFailures).toBe(0)
    run(lb, 3, { ok: true, status: 500 })
    expect(breaker.stateOf('a')!.state).toBe('open')
  })

  it('slowCallMs counts slow attempts', () => {
    const breaker = circuitBreaker({ consecutiveFailures: 2, failureRatio: 0, slowCallMs: 100 })
    const { lb } = setup([breaker])
    run(lb, 1, { ok: true, latencyMs: 100 })
    expect(breaker.stateOf('a')!.consecutiveFailures).toBe(0)
    run(lb, 2, { ok: true, latencyMs: 101 })
    expect(breaker.stateOf('a')!.state).toBe('open')
  })

  it('failureKinds choose the kinds that count; an unlisted kind is a success', () => {
    const breaker = circuitBreaker({ consecutiveFailures: 2, failureRatio: 0, failureKinds: ['connect'] })
    const { lb } = setup([breaker])
    run(lb, 1, CONNECT)
    run(lb, 1, { ok: false, error: 'status', status: 503 })
    expect(breaker.stateOf('a')!.consecutiveFailures).toBe(0)
    run(lb, 2, CONNECT)
    expect(breaker.stateOf('a')!.state).toBe('open')
  })

  it('isFailure overrides everything else', () => {
    const seen: number[] = []
    const breaker = circuitBreaker({
      consecutiveFailures: 2,
      failureRatio: 0,
      slowCallMs: 1,
      isFailure: (outcome, latencyMs) => {
        seen.push(latencyMs)
        return outcome.status === 418
      },
    })
    const { lb } = setup([breaker])
    run(lb, 3, { ...CONNECT, latencyMs: 50 })
    expect(breaker.stateOf('a')!.consecutiveFailures).toBe(0)
    run(lb, 2, { ok: true, status: 418 })
    expect(breaker.stateOf('a')!.state).toBe('open')
    expect(seen.slice(0, 3)).toEqual([50, 50, 50])
  })

  it('counts execute() failures (classified errors) and routes execute() around an open backend', async () => {
    const breaker = consecutive(2)
    const { lb } = setup([breaker])
    const calls: string[] = []
    for (let i = 0; i < 2; i++)
      await expect(
        lb.execute({}, (b) => {
          calls.push(b.id)
          throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })
        }),
      ).rejects.toThrow('refused')
    expect(calls).toEqual(['a', 'a'])
    expect(breaker.stateOf('a')!.state).toBe('open')
    await expect(lb.execute({}, (b) => b.id)).resolves.toBe('b')
  })
})

describe('circuitBreaker: lifecycle', () => {
  it('keeps one scheduler entry per open breaker, none when all are closed', () => {
    const breaker = consecutive()
    const { lb, clock } = setup([breaker])
    const scheduler = sharedScheduler(clock)
    expect(scheduler.size).toBe(0)
    openA(lb)
    expect(scheduler.size).toBe(1)
    run(lb, 5, CONNECT) // b
    expect(scheduler.size).toBe(2)
    clock.advance(10_000)
    expect(scheduler.size).toBe(0)
    const probes = [lb.pick(), lb.pick()] // a's probe in flight: the second goes to b
    expect(probes.map((l) => l.backend!.id)).toEqual(['a', 'b'])
    for (const l of probes) l.release()
    expect([breaker.stateOf('a')!.state, breaker.stateOf('b')!.state]).toEqual(['closed', 'closed'])
    expect(scheduler.size).toBe(0)
  })

  it('keeps state by id across remove and re-add, and reports the new backend object', () => {
    const breaker = consecutive()
    const { lb, clock, transitions } = setup([breaker], ['a'])
    openA(lb)
    lb.remove('a')
    const again = lb.add(specs(['a'])[0]!)
    lb.setWeight('a', 5)
    expect(breaker.stateOf('a')).toMatchObject({ state: 'open', opens: 1 })
    expect(() => lb.pick()).toThrow(NoBackendError)
    clock.advance(5_000)
    expect(transitions.at(-1)!.backend).toBe(again)
    expect(run(lb, 1)).toEqual(['a'])
    expect(breaker.stateOf('a')!.state).toBe('closed')
    expect(breaker.stateOf('zzz')).toBeUndefined()
  })

  it('close() cancels every backoff and ignores later releases', async () => {
    const breaker = consecutive()
    const { lb, clock } = setup([breaker])
    const late = lb.pick()
    openA(lb)
    expect(sharedScheduler(clock).size).toBe(1)
    await lb.close()
    expect(sharedScheduler(clock).size).toBe(0)
    late.release(CONNECT)
    expect(sharedScheduler(clock).size).toBe(0)
  })

  it('belongs to one balancer', () => {
    const breaker = consecutive()
    setup([breaker])
    expect(() => setup([breaker])).toThrow(/already attached/)
  })

  it('rejects bad options, naming the option', () => {
    const bad: [unknown, string][] = [
      [{ consecutiveFailures: -1 }, 'circuitBreaker.consecutiveFailures'],
      [{ consecutiveFailures: 0, failureRatio: 0 }, 'circuitBreaker.failureRatio'],
      [{ failureRatio: 1.5 }, 'circuitBreaker.failureRatio'],
      [{ minRequests: 0 }, 'circuitBreaker.minRequests'],
      [{ backoff: { minMs: 0 } }, 'circuitBreaker.backoff.minMs'],
      [{ backoff: { minMs: 10_000, maxMs: 5_000 } }, 'circuitBreaker.backoff.maxMs'],
      [{ backoff: { min: 1 } }, 'circuitBreaker.backoff.min'],
      [{ halfOpenProbes: 0 }, 'circuitBreaker.halfOpenProbes'],
      [{ isFailure: true }, 'circuitBreaker.isFailure'],
      [{ failureKinds: ['cancelled'] }, 'circuitBreaker.failureKinds[0]'],
      [{ failureKinds: ['connect', 'nope'] }, 'circuitBreaker.failureKinds[1]'],
      [{ failureStatuses: [[599, 500]] }, 'circuitBreaker.failureStatuses[0]'],
      [{ failureStatuses: [500, 'x'] }, 'circuitBreaker.failureStatuses[1]'],
      [{ slowCallMs: 0 }, 'circuitBreaker.slowCallMs'],
      [{ consecutiveFailure: 3 }, 'circuitBreaker.consecutiveFailure'],
    ]
    for (const [options, path] of bad) {
      const err = (() => {
        try {
          circuitBreaker(options as never)
        } catch (e) {
          return e
        }
      })()
      expect(err, path).toBeInstanceOf(InvalidOptionError)
      expect((err as InvalidOptionError).path).toBe(path)
    }
    expect(circuitBreaker().name).toBe('circuit-breaker')
  })
})

import {
  type Backend,
  type BackendStateEvent,
  type BalancerControl,
  classifyError,
  createBalancer,
  type HealthCheck,
  type ScheduledEntry,
} from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { constant } from './distributions.js'
import { probeSimulated } from './probe.js'
import { seededRandom } from './seeded-random.js'
import { simulate } from './simulate.js'
import { SimulatedBackend } from './simulated-backend.js'
import type { SimulationReport } from './simulation-report.js'
import { VirtualClock } from './virtual-clock.js'

/**
 * A bare active check with rise/fall counters and no jitter, standing in for `fnCheck()` of
 * `@fulcrum/health` (which this package must not import): probes each backend every `intervalMs`.
 */
function everySecond(
  probe: (b: Backend, signal: AbortSignal) => Promise<void>,
  rise = 2,
  fall = 3,
): HealthCheck {
  const entries = new Set<ScheduledEntry>()
  let closed = false
  const watch = (control: BalancerControl, b: Backend): void => {
    let passes = 0
    let fails = 0
    let up = true
    const tick = (): void => {
      if (closed) return
      const ac = new AbortController()
      const timeout = control.scheduler.schedule({ run: () => ac.abort(new Error('timeout')) }, 500)
      probe(b, ac.signal).then(
        () => done(true, timeout),
        () => done(false, timeout),
      )
    }
    const done = (ok: boolean, timeout: ScheduledEntry): void => {
      control.scheduler.cancel(timeout)
      if (closed) return
      passes = ok ? passes + 1 : 0
      fails = ok ? 0 : fails + 1
      if (up && fails >= fall) control.setHealth(b, 'active:test', (up = false), `${fails} failed checks`)
      if (!up && passes >= rise) control.setHealth(b, 'active:test', (up = true), `${passes} passed checks`)
      entries.add(control.scheduler.schedule({ run: tick }, 1_000))
    }
    entries.add(control.scheduler.schedule({ run: tick }, 1_000))
  }
  let control: BalancerControl | undefined
  return {
    name: 'every-second',
    start(c) {
      control = c
      for (const b of c.backends()) watch(c, b)
    },
    close() {
      closed = true
      for (const e of entries) control?.scheduler.cancel(e)
    },
  }
}

const crash = [
  { at: 10_000, die: true as const },
  { at: 40_000, recover: true as const },
]

describe('probeSimulated()', () => {
  it('rejects with a TypeError outside simulate()', async () => {
    const lb = createBalancer().backends(['127.0.0.1:9001']).build()
    await expect(probeSimulated(lb.backends()[0]!, new AbortController().signal)).rejects.toThrow(
      /probeSimulated\(\): backend 127\.0\.0\.1:9001 is not a synthetic backend of a running simulate\(\)/,
    )
    await lb.close()
  })

  it('answers after the latency while alive, is refused when dead, reset on death, aborted on abort', async () => {
    const clock = new VirtualClock()
    const sim = new SimulatedBackend({
      id: 'x',
      path: 'backends[0].latency',
      latency: constant(10),
      errorRate: 1, // requests fail, /healthz does not
      clock,
      random: seededRandom(1),
    })
    const log: string[] = []
    const track = (p: Promise<void>): void => {
      p.then(
        () => log.push(`ok@${clock.now()}`),
        (e: unknown) => log.push(`${classifyError(e)}:${(e as { code?: string }).code}@${clock.now()}`),
      )
    }
    track(sim.probe(new AbortController().signal))
    expect(sim.inflight).toBe(0) // a probe is not an attempt
    await clock.advanceAsync(10)
    track(sim.probe(new AbortController().signal))
    await clock.advanceAsync(4)
    sim.apply({ at: 14, die: true })
    await clock.advanceAsync(0)
    track(sim.probe(new AbortController().signal))
    await clock.advanceAsync(1)
    sim.apply({ at: 15, recover: true, slow: 100 })
    const ac = new AbortController()
    track(sim.probe(ac.signal))
    await clock.advanceAsync(500)
    ac.abort(Object.assign(new Error('check timeout'), { code: 'ETIMEDOUT' }))
    await clock.advanceAsync(0)
    expect(log).toEqual(['ok@10', 'reset:ECONNRESET@14', 'connect:ECONNREFUSED@15', 'timeout:ETIMEDOUT@515'])
    expect(clock.pendingTimers).toBe(0)
  })

  it('lets an active check inside simulate() mark a dead backend down within fall × interval, and up again', async () => {
    const events: { t: number; id: string; to: string }[] = []
    const report = await simulate({
      balancer: createBalancer({ maxFails: 0 }).health(everySecond(probeSimulated)),
      backends: [{ id: 'a' }, { id: 'b' }, { id: 'c', events: crash }],
      load: { rps: 500 },
      durationMs: 60_000,
      seed: 7,
      actions: [
        {
          at: 0,
          run: (lb) => {
            lb.on('backend:state', (e: BackendStateEvent) =>
              events.push({ t: lb.clock.now(), id: e.backend.id, to: e.to }),
            )
          },
        },
      ],
    })
    expect(events.map((e) => `${e.id}:${e.to}`)).toEqual(['c:unhealthy', 'c:healthy'])
    const [down, up] = events
    expect(down!.t).toBeGreaterThan(10_000)
    expect(down!.t).toBeLessThanOrEqual(13_001) // three failed probes, one per second
    expect(up!.t).toBeGreaterThan(40_000)
    expect(up!.t).toBeLessThanOrEqual(42_010) // two passed probes (10 ms each)
    const c = report.timeline.map((b) => b.perBackend.c!)
    expect(c.slice(14, 40).every((s) => s.attempts === 0)).toBe(true)
    expect(c.slice(10, 40).every((s) => s.successes === 0)).toBe(true)
    expect(c.slice(43).every((s) => s.successes > 0)).toBe(true)
    // Without retries, the clients saw c's refusals until it was marked down, and nothing else.
    expect(report.requests.failed).toBe(report.backends.c!.failures)
    expect(report.requests.failed).toBeGreaterThan(0)
  })

  it('probes count as no request: the report is the one of the same run without a check', async () => {
    const run = (withCheck: boolean): Promise<SimulationReport> => {
      const base = createBalancer()
      return simulate({
        balancer: withCheck ? base.health(everySecond(probeSimulated)) : base,
        backends: [{ id: 'a' }, { id: 'b', latency: 20 }],
        load: { rps: 200 },
        durationMs: 5_000,
        seed: 3,
      })
    }
    const [checked, plain] = await Promise.all([run(true), run(false)])
    expect(checked).toEqual(plain)
    expect(checked.requests.total).toBe(checked.backends.a!.attempts + checked.backends.b!.attempts)
  })
})

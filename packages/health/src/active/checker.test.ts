import { sharedScheduler } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { scripted, specs, virtual } from './active.test-support.js'
import { fnCheck } from './fn-check.js'

const base = { intervalMs: 1_000, timeoutMs: 300, jitter: 0 } as const

describe('active checks: rise and fall', () => {
  it('a fully-up backend goes down after exactly `fall` failures, and up after exactly `rise` successes', async () => {
    const clock0 = { now: () => 0 }
    const s = scripted(clock0, [true, false, false, false, true, true])
    const check = fnCheck(s.fn, base)
    const { lb, clock, states } = virtual(1, check)
    const b = lb.get('b0')!
    const health: string[] = []
    for (let i = 0; i < 6; i++) {
      await clock.advanceAsync(i === 0 ? 0 : 1_000)
      health.push(b.health)
    }
    expect(health).toEqual(['healthy', 'healthy', 'healthy', 'unhealthy', 'unhealthy', 'healthy'])
    expect(states.map((e) => [e.from, e.to, e.reason])).toEqual([
      ['healthy', 'unhealthy', 'active:fn: returned false (3 consecutive failures)'],
      ['unhealthy', 'healthy', 'active:fn: 2 consecutive successes'],
    ])
    expect(check.status('b0')).toMatchObject({ up: true, health: 4, checks: 6, lastResult: 'pass' })
  })

  it("initialState 'up' is unconfirmed: one failure marks the backend down", async () => {
    const s = scripted({ now: () => 0 }, [false])
    const { lb, clock, states } = virtual(1, fnCheck(s.fn, base))
    expect(lb.get('b0')!.health).toBe('healthy')
    await clock.advanceAsync(0)
    expect(lb.get('b0')!.health).toBe('unhealthy')
    expect(states[0]!.reason).toBe('active:fn: returned false')
  })

  it('flapping pass/fail never moves a fully-up backend down (fall 3) nor a down one up (rise 2)', async () => {
    const up = scripted({ now: () => 0 }, (_b, call) => call === 0 || call % 2 === 1)
    const down = scripted({ now: () => 0 }, (_b, call) => call > 0 && call % 2 === 1)
    const a = virtual(1, fnCheck(up.fn, base))
    const d = virtual(1, fnCheck(down.fn, { ...base, initialState: 'down' }))
    for (const env of [a, d]) await env.clock.advanceAsync(20_000)
    expect(up.calls.get('b0')).toHaveLength(21)
    expect(a.states).toEqual([])
    expect(a.lb.get('b0')!.health).toBe('healthy')
    expect(d.lb.get('b0')!.health).toBe('unhealthy')
    expect(d.states).toEqual([])
  })

  it("initialState 'down': unhealthy until the first success, the reason updated once by the first check", async () => {
    const s = scripted({ now: () => 0 }, [false, false, true])
    const check = fnCheck(s.fn, { ...base, initialState: 'down' })
    const { lb, clock } = virtual(1, check)
    const b = lb.get('b0')!
    expect(b.health).toBe('unhealthy')
    expect(b.unhealthyReasons.get('active:fn')).toBe('awaiting first check')
    await clock.advanceAsync(0)
    expect(b.unhealthyReasons.get('active:fn')).toBe('returned false')
    await clock.advanceAsync(1_000) // health 0: rise successes are now needed
    await clock.advanceAsync(1_000)
    expect(b.health).toBe('unhealthy')
    await clock.advanceAsync(1_000)
    expect(b.health).toBe('healthy')
    // Added later: unhealthy at once too.
    const late = lb.add({ id: 'late', host: '127.0.0.1', port: 9999 })
    expect(late.unhealthyReasons.get('active:fn')).toBe('awaiting first check')
    expect(check.status('late')).toMatchObject({ up: false, health: 1, checks: 0, lastResult: undefined })
  })

  it('reasons: a throw or rejection fails with the message; failure reasons repeat in events', async () => {
    const check = fnCheck(
      async (b) => {
        if (b.id === 'b0') throw new Error('database unreachable')
        return Promise.reject(new TypeError('bad'))
      },
      { ...base, fall: 1 },
    )
    const { lb, clock, checks } = virtual(2, check)
    await clock.advanceAsync(999)
    expect(lb.get('b0')!.unhealthyReasons.get('active:fn')).toBe('database unreachable')
    expect(lb.get('b1')!.unhealthyReasons.get('active:fn')).toBe('bad')
    expect(checks.map((c) => [c.backend.id, c.ok, c.reason, c.source])).toEqual([
      ['b0', false, 'database unreachable', 'active:fn'],
      ['b1', false, 'bad', 'active:fn'],
    ])
  })

  it('a synchronous check function works; anything but false passes', async () => {
    const values: unknown[] = [undefined, 0, '', null, 'ok']
    let i = 0
    const check = fnCheck(() => values[i++ % values.length], { ...base, fall: 1 })
    const { clock, checks } = virtual(1, check)
    await clock.advanceAsync(4_000)
    expect(checks.map((c) => c.ok)).toEqual([true, true, true, true, true])
  })
})

describe('active checks: timeouts and overlap', () => {
  it('a check that never resolves is cut at timeoutMs, counts as a failure and its signal aborts', async () => {
    let signal: AbortSignal | undefined
    const check = fnCheck(
      (_b, s) => {
        signal = s
        return new Promise(() => {}) // ignores the signal on purpose
      },
      { ...base, fall: 1 },
    )
    const { lb, clock, checks } = virtual(1, check)
    await clock.advanceAsync(299)
    expect(signal!.aborted).toBe(false)
    expect(check.status('b0')!.inFlight).toBe(true)
    await clock.advanceAsync(1)
    expect(signal!.aborted).toBe(true)
    expect((signal!.reason as DOMException).name).toBe('TimeoutError')
    expect(checks).toEqual([
      {
        backend: lb.get('b0'),
        source: 'active:fn',
        ok: false,
        reason: 'timeout after 300 ms',
        latencyMs: 300,
      },
    ])
    expect(lb.get('b0')!.unhealthyReasons.get('active:fn')).toBe('timeout after 300 ms')
    // The next check starts one interval after the timeout, not after the start.
    expect(check.status('b0')!.nextCheckAt).toBe(1_300)
  })

  it('the default timeout is min(2000, interval / 2)', async () => {
    const s = scripted({ now: () => 0 }, ['hang'])
    const { clock, checks } = virtual(1, fnCheck(s.fn, { intervalMs: 1_000, jitter: 0 }))
    await clock.advanceAsync(500)
    expect(checks[0]!.reason).toBe('timeout after 500 ms')
  })

  it('checks of one backend never overlap, slow or hanging', async () => {
    const env = { now: () => 0 }
    const s = scripted(env, (_b, call) => (call % 3 === 2 ? 'hang' : true))
    const slow = fnCheck(async (b, signal) => {
      await new Promise<void>((r) => clock.setTimer(r, 250))
      return s.fn(b, signal)
    }, base)
    const { clock } = virtual(3, slow)
    env.now = () => clock.now()
    await clock.advanceAsync(30_000)
    expect(s.calls.get('b0')!.length).toBeGreaterThan(20)
    expect(s.maxConcurrent()).toBe(1)
    // Start-to-start gaps: a pass takes 250 ms + 1 s, a timeout 300 ms + 1 s.
    const gaps = new Set(
      s.calls
        .get('b0')!
        .map((t, i, a) => (i === 0 ? 0 : t - a[i - 1]!))
        .slice(1),
    )
    expect([...gaps].sort()).toEqual([1_250, 1_300])
  })
})

describe('active checks: timing', () => {
  it('uses unhealthyIntervalMs while down and intervalMs while up', async () => {
    const env = { now: () => 0 }
    const s = scripted(env, [true, false, false, true, true, true])
    const { clock } = virtual(1, fnCheck(s.fn, { ...base, unhealthyIntervalMs: 400, fall: 1, rise: 2 }))
    env.now = () => clock.now()
    await clock.advanceAsync(4_000)
    // up: +1000 → fail (down): +400 → fail: +400 → pass (rising): +400 → pass (up): +1000 → pass
    expect(s.calls.get('b0')).toEqual([0, 1_000, 1_400, 1_800, 2_200, 3_200])
  })

  it('jitter adds a random 0 … jitter × interval to every interval', async () => {
    const env = { now: () => 0 }
    const s = scripted(env, [true])
    const { clock } = virtual(1, fnCheck(s.fn, { intervalMs: 1_000, jitter: 0.5 }))
    env.now = () => clock.now()
    await clock.advanceAsync(100_000)
    const t = s.calls.get('b0')!
    const gaps = t.slice(1).map((x, i) => x - t[i]!)
    expect(gaps.length).toBeGreaterThan(60)
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1_000)
    expect(Math.max(...gaps)).toBeLessThan(1_500)
    expect(new Set(gaps).size).toBeGreaterThan(gaps.length / 2)
  })

  it('staggers the first checks: backend i of n in [i/n, (i + jitter)/n) × interval; later ones within one interval', async () => {
    const env = { now: () => 0 }
    const s = scripted(env, [true])
    const { lb, clock } = virtual(10, fnCheck(s.fn, { intervalMs: 1_000, jitter: 0.1 }))
    env.now = () => clock.now()
    await clock.advanceAsync(999)
    const first = specs(10).map((b) => s.calls.get(b.id)?.[0])
    expect(new Set(first).size).toBe(10)
    first.forEach((t, i) => {
      expect(t).toBeGreaterThanOrEqual(i * 100)
      expect(t).toBeLessThan(i * 100 + 10)
    })
    lb.add({ id: 'late', host: '127.0.0.1', port: 9999 })
    await clock.advanceAsync(1_000)
    expect(s.calls.get('late')![0]).toBeGreaterThanOrEqual(999)
    expect(s.calls.get('late')![0]).toBeLessThan(1_999)
  })

  it('uses exactly one clock timer however many backends are checked', async () => {
    const env = { now: () => 0 }
    const s = scripted(env, (_b, call) => (call % 4 === 3 ? 'hang' : call % 2 === 0))
    const check = fnCheck(s.fn, { intervalMs: 1_000, timeoutMs: 300 })
    const { clock } = virtual(50, check)
    env.now = () => clock.now()
    const scheduler = sharedScheduler(clock)
    expect(clock.pendingTimers).toBe(1)
    expect(scheduler.size).toBe(50)
    for (let i = 0; i < 20; i++) {
      await clock.advanceAsync(173)
      expect(clock.pendingTimers).toBe(1)
      expect(scheduler.size).toBe(50) // one entry per backend: its next check or its timeout
    }
  })
})

describe('active checks: lifecycle', () => {
  it('close() cancels every scheduled check and aborts those in flight', async () => {
    const env = { now: () => 0 }
    const s = scripted(env, ['hang'])
    const { lb, clock } = virtual(3, fnCheck(s.fn, { intervalMs: 1_000, timeoutMs: 900, jitter: 0 }))
    env.now = () => clock.now()
    await clock.advanceAsync(400) // b0 (t=0) and b1 (t≈333) in flight, b2 scheduled
    expect(s.signals).toHaveLength(2)
    await lb.close()
    expect(s.signals.every((x) => x.aborted)).toBe(true)
    expect(clock.pendingTimers).toBe(0)
    expect(sharedScheduler(clock).size).toBe(0)
    await clock.advanceAsync(10_000)
    expect(s.signals).toHaveLength(2)
  })

  it('removed backends stop being checked and are forgotten; re-added ones start afresh', async () => {
    const env = { now: () => 0 }
    const s = scripted(env, [false])
    const check = fnCheck(s.fn, { ...base, fall: 1 })
    const { lb, clock, checks } = virtual(2, check)
    env.now = () => clock.now()
    await clock.advanceAsync(1_000)
    expect(lb.get('b0')!.health).toBe('unhealthy')
    lb.remove('b0')
    expect(check.status('b0')).toBeUndefined()
    const before = s.calls.get('b0')!.length
    await clock.advanceAsync(5_000)
    expect(s.calls.get('b0')).toHaveLength(before)
    expect(checks.filter((c) => c.backend.id === 'b0')).toHaveLength(before)
    // Core revives the same Backend object with its old verdicts; initial state 'up' clears ours.
    const again = lb.add(specs(1)[0]!)
    expect(again.health).toBe('healthy')
    expect(check.status('b0')).toMatchObject({ up: true, health: 2, checks: 0 })
    expect(sharedScheduler(clock).size).toBe(2)
  })

  it('removing a backend aborts its check in flight', async () => {
    const s = scripted({ now: () => 0 }, ['hang'])
    const { lb, clock } = virtual(1, fnCheck(s.fn, base))
    await clock.advanceAsync(0)
    lb.remove('b0')
    expect(s.signals[0]!.aborted).toBe(true)
    expect(sharedScheduler(clock).size).toBe(0)
  })

  it('filter restricts which backends are checked', async () => {
    const s = scripted({ now: () => 0 }, [false])
    const { lb, clock } = virtual(
      3,
      fnCheck(s.fn, { ...base, initialState: 'down', filter: (b) => b.id !== 'b1' }),
    )
    await clock.advanceAsync(2_000)
    expect([...s.calls.keys()].sort()).toEqual(['b0', 'b2'])
    expect(lb.get('b1')!.health).toBe('healthy')
    lb.add({ id: 'b1x', host: '127.0.0.1', port: 9998 })
    expect(lb.get('b1x')!.health).toBe('unhealthy')
  })

  it('a check object serves one balancer', () => {
    const check = fnCheck(() => true)
    virtual(1, check)
    expect(() => virtual(1, check)).toThrow(/already in use/)
  })
})

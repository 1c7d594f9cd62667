import { describe, expect, it } from 'vitest'
import { BackendSet } from './backend-set.js'
import { createBalancer } from './builder.js'
import type { Clock } from './clock.js'

/** A hand-driven clock: picks and releases read `t`. */
function manualClock(): Clock & { t: number } {
  return {
    t: 1_000,
    now() {
      return this.t
    },
    setTimer: () => 0,
    clearTimer: () => {},
  }
}

const specs = ['a', 'b', 'c'].map((id, i) => ({ id, host: '127.0.0.1', port: 9000 + i }))

describe('passive failure avoidance (maxFails / failTimeoutMs)', () => {
  it('skips a backend after maxFails consecutive failures until failTimeoutMs has passed', () => {
    const clock = manualClock()
    const lb = createBalancer({ maxFails: 3, failTimeoutMs: 10_000 }).backends(specs).clock(clock).build()
    const a = lb.get('a')!
    // Three failures on a: with b and c marked as tried, a is the only candidate.
    const onlyA = new BackendSet()
    onlyA.add(lb.get('b')!)
    onlyA.add(lb.get('c')!)
    for (let i = 0; i < 3; i++) lb.pick(undefined, onlyA).release({ ok: false, error: 'connect' })
    expect(a.counters.consecutiveFailures).toBe(3)
    for (let i = 0; i < 300; i++) {
      const lease = lb.pick()
      expect(lease.backend).not.toBe(a)
      lease.release()
    }
    clock.t += 10_001
    const seen = new Set<string>()
    for (let i = 0; i < 300; i++) {
      const lease = lb.pick()
      seen.add(lease.backend!.id)
      lease.release()
    }
    expect(seen.has('a')).toBe(true)
    expect(a.counters.consecutiveFailures).toBe(0)
  })

  it('fails open when every backend failed recently, and maxFails 0 disables it', () => {
    const clock = manualClock()
    const lb = createBalancer({ maxFails: 1 }).backends(specs).clock(clock).build()
    for (const b of lb.backends()) {
      b.counters.consecutiveFailures = 5
      b.counters.lastFailureAt = clock.t
    }
    const lease = lb.pick()
    expect(lease.backend).toBeDefined()
    lease.release()
    const off = createBalancer({ maxFails: 0 }).backends(specs).clock(clock).build()
    const b = off.get('b')!
    b.counters.consecutiveFailures = 100
    b.counters.lastFailureAt = clock.t
    const seen = new Set<string>()
    for (let i = 0; i < 300; i++) {
      const l = off.pick()
      seen.add(l.backend!.id)
      l.release()
    }
    expect(seen.has('b')).toBe(true)
  })

  it('keeps least-request strategies off a dead backend, so retries under budget cost no errors', async () => {
    const lb = createBalancer()
      .backends(specs)
      .retry({ retries: 2, backoff: { baseMs: 0, maxMs: 0 } })
      .build()
    let failed = 0
    let deadAttempts = 0
    for (let i = 0; i < 500; i++) {
      await lb
        .execute({}, (b) => {
          if (b.id === 'c') {
            deadAttempts++
            throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })
          }
          return 'ok'
        })
        .catch(() => failed++)
    }
    expect(failed).toBe(0)
    expect(deadAttempts).toBeLessThanOrEqual(5)
  })
})

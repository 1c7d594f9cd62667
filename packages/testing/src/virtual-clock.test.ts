import { AttemptTimeoutError, createBalancer } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { seededRandom } from './seeded-random.js'
import { VirtualClock } from './virtual-clock.js'

describe('VirtualClock', () => {
  it('starts at 0 or at the given start, and stands still', () => {
    expect(new VirtualClock().now()).toBe(0)
    const clock = new VirtualClock({ start: 1_000 })
    expect(clock.now()).toBe(1_000)
    expect(clock.now()).toBe(1_000)
    expect(clock.advance(250)).toBe(0)
    expect(clock.now()).toBe(1_250)
  })

  it('fires timers in due order, FIFO for equal times, each at its due time', () => {
    const clock = new VirtualClock()
    const log: string[] = []
    const at = (name: string) => () => log.push(`${name}@${clock.now()}`)
    clock.setTimer(at('c'), 30)
    clock.setTimer(at('a1'), 10)
    clock.setTimer(at('b'), 20)
    clock.setTimer(at('a2'), 10)
    clock.setTimer(at('zero'), -5) // clamped to 0
    clock.setTimer(at('nan'), Number.NaN) // clamped to 0
    expect(clock.pendingTimers).toBe(6)
    expect(clock.nextTimerAt).toBe(0)
    expect(clock.advance(25)).toBe(5)
    expect(log).toEqual(['zero@0', 'nan@0', 'a1@10', 'a2@10', 'b@20'])
    expect(clock.now()).toBe(25)
    expect(clock.pendingTimers).toBe(1)
    clock.advance(5)
    expect(log.at(-1)).toBe('c@30')
    expect(clock.pendingTimers).toBe(0)
    expect(clock.nextTimerAt).toBeUndefined()
  })

  it('fires timers scheduled by callbacks when they fall inside the window', () => {
    const clock = new VirtualClock()
    const log: number[] = []
    const chain = (): void => {
      log.push(clock.now())
      if (log.length < 10) clock.setTimer(chain, 10)
    }
    clock.setTimer(chain, 10)
    clock.advance(35)
    expect(log).toEqual([10, 20, 30])
    clock.advance(1_000)
    expect(log).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    // A zero-delay timer scheduled while firing runs in the same advance, after the current one.
    const order: string[] = []
    clock.setTimer(() => {
      order.push('outer')
      clock.setTimer(() => order.push('inner'), 0)
    }, 0)
    clock.advance(0)
    expect(order).toEqual(['outer', 'inner'])
  })

  it('clears timers; unknown, foreign and fired handles are ignored', () => {
    const clock = new VirtualClock()
    const other = new VirtualClock()
    let fired = 0
    const a = clock.setTimer(() => fired++, 10)
    const b = clock.setTimer(() => fired++, 20)
    const foreign = other.setTimer(() => fired++, 10)
    clock.clearTimer(a)
    clock.clearTimer(a)
    clock.clearTimer(foreign)
    clock.clearTimer(undefined)
    clock.clearTimer({})
    expect(clock.pendingTimers).toBe(1)
    clock.advance(100)
    expect(fired).toBe(1)
    clock.clearTimer(b)
    expect(clock.pendingTimers).toBe(0)
    expect(other.pendingTimers).toBe(1)
  })

  it('keeps its heap small when many timers are cleared', () => {
    const clock = new VirtualClock()
    let fired = 0
    for (let i = 0; i < 10_000; i++) clock.clearTimer(clock.setTimer(() => fired++, 1_000_000))
    const kept = clock.setTimer(() => fired++, 5)
    expect(clock.pendingTimers).toBe(1)
    clock.advance(10)
    expect(fired).toBe(1)
    clock.clearTimer(kept)
  })

  it('never fires an infinite timer', () => {
    const clock = new VirtualClock()
    let fired = false
    clock.setTimer(() => {
      fired = true
    }, Number.POSITIVE_INFINITY)
    expect(clock.pendingTimers).toBe(0)
    expect(clock.runAll()).toBe(0)
    expect(fired).toBe(false)
  })

  it('advanceToNext() steps through timers one at a time', () => {
    const clock = new VirtualClock()
    const log: number[] = []
    clock.setTimer(() => log.push(clock.now()), 7)
    clock.setTimer(() => log.push(clock.now()), 3)
    expect(clock.advanceToNext()).toBe(true)
    expect(clock.now()).toBe(3)
    expect(clock.advanceToNext()).toBe(true)
    expect(clock.now()).toBe(7)
    expect(clock.advanceToNext()).toBe(false)
    expect(log).toEqual([3, 7])
  })

  it('runAll() fires everything, and throws on a timer that keeps rescheduling', () => {
    const clock = new VirtualClock()
    let n = 0
    const three = (): void => {
      if (++n < 3) clock.setTimer(three, 100)
    }
    clock.setTimer(three, 100)
    expect(clock.runAll()).toBe(3)
    expect(clock.now()).toBe(300)
    const forever = (): void => {
      clock.setTimer(forever, 0)
    }
    clock.setTimer(forever, 0)
    expect(() => clock.runAll(50)).toThrow(/more than 50 timers/)
    const bounded = new VirtualClock({ maxFirings: 20 })
    const again = (): void => {
      bounded.setTimer(again, 0)
    }
    bounded.setTimer(again, 0)
    expect(() => bounded.advance(1)).toThrow(/more than 20 timers/)
  })

  it('rejects bad arguments and re-entrant advances', () => {
    const clock = new VirtualClock()
    expect(() => clock.advance(-1)).toThrow(RangeError)
    expect(() => clock.advance(Number.NaN)).toThrow(RangeError)
    expect(() => clock.advance(Number.POSITIVE_INFINITY)).toThrow(RangeError)
    expect(() => new VirtualClock({ start: Number.NaN })).toThrow(RangeError)
    expect(() => new VirtualClock({ maxFirings: 0 })).toThrow(RangeError)
    clock.setTimer(() => clock.advance(1), 1)
    expect(() => clock.advance(5)).toThrow(/re-entrant/)
    // The clock is usable again after a callback threw.
    clock.setTimer(() => undefined, 1)
    expect(clock.advance(5)).toBe(1)
  })

  it('advanceAsync() lets promise chains that await timers progress', async () => {
    const clock = new VirtualClock()
    const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms))
    const log: number[] = []
    const task = (async () => {
      for (let i = 0; i < 5; i++) {
        await sleep(10)
        await Promise.resolve()
        log.push(clock.now())
      }
      return 'done'
    })()
    // A synchronous advance fires only the first sleep: the task resumes after advance() returned,
    // so it sees now() = 100, not 10.
    clock.advance(100)
    expect(log).toEqual([])
    await clock.advanceAsync(35)
    expect(log).toEqual([100, 110, 120, 130])
    await clock.advanceAsync(1_000)
    expect(await task).toBe('done')
    expect(log).toEqual([100, 110, 120, 130, 140])
    expect(clock.now()).toBe(1_135)
  })

  it('drives balancer.execute(): a per-try timeout fires at its exact virtual time and the retry succeeds', async () => {
    const clock = new VirtualClock()
    const lb = createBalancer()
      .backends(['127.0.0.1:9001', '127.0.0.1:9002', '127.0.0.1:9003'])
      .clock(clock)
      .random(seededRandom(1))
      .retry({ retries: 2, perTryTimeoutMs: 100, backoff: { baseMs: 20, maxMs: 20 }, budget: false })
      .build()
    const attempts: { attempt: number; at: number; aborted?: number }[] = []
    const result = lb.execute({}, (backend, signal, info) => {
      const entry: { attempt: number; at: number; aborted?: number } = {
        attempt: info.attempt,
        at: clock.now(),
      }
      attempts.push(entry)
      return new Promise<string>((resolve, reject) => {
        // The first try hangs until aborted; later tries answer in 30 ms.
        const timer = info.attempt === 0 ? undefined : clock.setTimer(() => resolve(backend.id), 30)
        signal.addEventListener('abort', () => {
          entry.aborted = clock.now()
          clock.clearTimer(timer)
          reject(signal.reason)
        })
      })
    })
    await clock.advanceAsync(99)
    expect(attempts).toHaveLength(1)
    await clock.advanceAsync(1)
    expect(attempts[0]!.aborted).toBe(100)
    await clock.advanceAsync(200)
    const id = await result
    expect(attempts).toHaveLength(2)
    const retry = attempts[1]!
    expect(retry.attempt).toBe(1)
    expect(retry.at).toBeGreaterThanOrEqual(100)
    expect(retry.at).toBeLessThan(120) // full-jitter backoff below baseMs
    const failed = lb.backends().find((b) => b.counters.failures === 1)!
    expect(id).not.toBe(failed.id)
    expect(failed.counters.lastFailure).toBe('timeout')
    expect(failed.counters.lastFailureAt).toBe(100)
    expect(lb.get(id)!.counters.successes).toBe(1)
    await lb.close()
  })

  it('drives balancer.execute() to AttemptTimeoutError when every try times out', async () => {
    const clock = new VirtualClock()
    const lb = createBalancer()
      .backends(['127.0.0.1:9001', '127.0.0.1:9002'])
      .clock(clock)
      .random(seededRandom(2))
      .retry({ retries: 1, perTryTimeoutMs: 50, budget: false })
      .build()
    const result = lb.execute(
      {},
      (_b, signal) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    )
    const settled = result.then(
      () => 'resolved',
      (err: unknown) => err,
    )
    await clock.advanceAsync(1_000)
    const err = await settled
    expect(err).toBeInstanceOf(AttemptTimeoutError)
    expect(clock.pendingTimers).toBe(0)
    await lb.close()
  })
})

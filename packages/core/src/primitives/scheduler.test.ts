import { describe, expect, it } from 'vitest'
import type { Clock, TimerHandle } from '../clock.js'
import { Scheduler, sharedScheduler } from './scheduler.js'

/** A minimal manual clock (core cannot depend on @fulcrum/testing, which depends on core). */
class VirtualClock implements Clock {
  #now = 0
  #timers: { at: number; fn: (() => void) | undefined }[] = []
  now(): number {
    return this.#now
  }
  setTimer(fn: () => void, ms: number): TimerHandle {
    const t = { at: this.#now + Math.max(0, ms), fn: fn as (() => void) | undefined }
    this.#timers.push(t)
    return t
  }
  clearTimer(handle: TimerHandle): void {
    ;(handle as { fn: unknown }).fn = undefined
  }
  get pendingTimers(): number {
    return this.#timers.filter((t) => t.fn !== undefined).length
  }
  get nextTimerAt(): number | undefined {
    const live = this.#timers.filter((t) => t.fn !== undefined).map((t) => t.at)
    return live.length === 0 ? undefined : Math.min(...live)
  }
  advance(ms: number): void {
    const target = this.#now + ms
    for (;;) {
      const next = this.#timers
        .filter((t) => t.fn !== undefined && t.at <= target)
        .sort((a, b) => a.at - b.at)[0]
      if (next === undefined) break
      this.#now = next.at
      const fn = next.fn!
      next.fn = undefined
      fn()
    }
    this.#now = target
  }
}

const task = (log: string[], name: string, clock: VirtualClock) => ({
  run: (now: number) => {
    expect(now).toBe(clock.now())
    log.push(`${name}@${now}`)
  },
})

describe('Scheduler', () => {
  it('runs tasks in due order with one clock timer, ties in scheduling order', () => {
    const clock = new VirtualClock()
    const s = new Scheduler(clock)
    const log: string[] = []
    s.schedule(task(log, 'c', clock), 300)
    s.schedule(task(log, 'a', clock), 100)
    s.schedule(task(log, 'b1', clock), 200)
    s.schedule(task(log, 'b2', clock), 200)
    expect(s.size).toBe(4)
    expect(clock.pendingTimers).toBe(1)
    expect(clock.nextTimerAt).toBe(100)
    clock.advance(1_000)
    expect(log).toEqual(['a@100', 'b1@200', 'b2@200', 'c@300'])
    expect(s.size).toBe(0)
    expect(clock.pendingTimers).toBe(0)
  })

  it('re-arms for an earlier task and cancels in O(1)', () => {
    const clock = new VirtualClock()
    const s = new Scheduler(clock)
    const log: string[] = []
    const late = s.schedule(task(log, 'late', clock), 500)
    s.schedule(task(log, 'early', clock), 50)
    expect(clock.nextTimerAt).toBe(50)
    s.cancel(late)
    s.cancel(late)
    expect(late.done).toBe(true)
    clock.advance(1_000)
    expect(log).toEqual(['early@50'])
    expect(clock.pendingTimers).toBe(0)
  })

  it('drops its timer when every task is cancelled', () => {
    const clock = new VirtualClock()
    const s = new Scheduler(clock)
    const entries = Array.from({ length: 200 }, (_, i) => s.schedule({ run: () => {} }, 1_000 + i))
    for (const e of entries) s.cancel(e)
    expect(s.size).toBe(0)
    expect(clock.pendingTimers).toBe(0)
  })

  it('runs a task scheduled with no delay from inside a task at the next firing, not in a loop', () => {
    const clock = new VirtualClock()
    const s = new Scheduler(clock)
    let runs = 0
    const again = {
      run: () => {
        if (++runs < 3) s.schedule(again, 0)
      },
    }
    s.schedule(again, 10)
    clock.advance(10)
    expect(runs).toBe(3)
    expect(s.size).toBe(0)
  })

  it('keeps running the other tasks when one throws', async () => {
    const clock = new VirtualClock()
    const s = new Scheduler(clock)
    const log: string[] = []
    const errors: unknown[] = []
    const onError = (err: unknown): void => {
      errors.push(err)
    }
    process.on('uncaughtException', onError)
    try {
      s.schedule(
        {
          run: () => {
            throw new Error('boom')
          },
        },
        10,
      )
      s.schedule(task(log, 'next', clock), 10)
      clock.advance(20)
      expect(log).toEqual(['next@10'])
      await new Promise((r) => setImmediate(r))
      expect(errors).toHaveLength(1)
    } finally {
      process.off('uncaughtException', onError)
    }
  })

  it('is shared per clock', () => {
    const a = new VirtualClock()
    const b = new VirtualClock()
    expect(sharedScheduler(a)).toBe(sharedScheduler(a))
    expect(sharedScheduler(a)).not.toBe(sharedScheduler(b))
  })
})

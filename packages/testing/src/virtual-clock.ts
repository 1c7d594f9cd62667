import { type Clock, DueHeap, type TimerHandle } from '@fulcrum/core'

/**
 * Options of {@link VirtualClock}.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock({ start: 1_700_000_000_000, maxFirings: 1_000 })
 * ```
 */
export interface VirtualClockOptions {
  /** The initial value of `now()`, in ms. @default 0 */
  readonly start?: number
  /**
   * Most timers one `advance()`, `advanceAsync()` or `runAll()` call may fire before it throws,
   * which turns a timer that keeps rescheduling itself with 0 ms into an error instead of a hang.
   * @default 10_000_000
   */
  readonly maxFirings?: number
}

/** A pending timer; also the opaque handle returned by `setTimer()`. */
class VirtualTimer {
  constructor(
    readonly owner: VirtualClock,
    /** The due time. */
    readonly at: number,
    readonly seq: number,
    public fn: (() => void) | undefined,
  ) {}
}

/** Lets every queued microtask (promise continuation) run: one macrotask turn of the event loop. */
function tick(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve))
}

function isPending(t: VirtualTimer): boolean {
  return t.fn !== undefined
}

/**
 * A manually driven {@link Clock}: time stands still until you call `advance()`, `advanceAsync()`,
 * `advanceToNext()` or `runAll()`, and timers fire in due-time order (FIFO for equal times), each at
 * its exact due time. Inject it with `createBalancer().clock(clock)` to make backoff, per-try
 * timeouts, retry budgets, EWMA decay and health intervals deterministic and instant in tests.
 *
 * Use `advance()` for synchronous code (timers only) and `advanceAsync()` when the code under test
 * awaits the timers, such as `balancer.execute()` with retries: it lets promise chains run between
 * two firings.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock()
 * const lb = createBalancer().clock(clock).backends(['127.0.0.1:9001', '127.0.0.1:9002'])
 *   .retry({ retries: 1, perTryTimeoutMs: 100 }).build()
 * const result = lb.execute({}, (_b, signal, info) => info.attempt === 0 ? hang(signal) : 'ok')
 * await clock.advanceAsync(1_000) // the first try times out at t = 100, the retry succeeds
 * expect(await result).toBe('ok')
 * ```
 */
export class VirtualClock implements Clock {
  #now: number
  readonly #maxFirings: number
  /** Binary min-heap of timers, cleared ones included (removed lazily). */
  readonly #heap = new DueHeap<VirtualTimer>()
  #live = 0
  #seq = 0
  #running = false

  constructor(options: VirtualClockOptions = {}) {
    const start = options.start ?? 0
    if (!Number.isFinite(start)) throw new RangeError(`VirtualClock start must be finite, got ${start}`)
    const max = options.maxFirings ?? 10_000_000
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`VirtualClock maxFirings must be a positive integer, got ${max}`)
    this.#now = start
    this.#maxFirings = max
  }

  /** The current virtual time, in ms. */
  now(): number {
    return this.#now
  }

  /**
   * Schedules `fn` to run once when the clock reaches `now() + ms`. `ms` below 0 or NaN counts as 0;
   * an infinite `ms` never fires.
   */
  setTimer(fn: () => void, ms: number): TimerHandle {
    const delay = Number.isNaN(ms) ? 0 : Math.max(ms, 0)
    const timer = new VirtualTimer(this, this.#now + delay, this.#seq++, fn)
    if (delay === Number.POSITIVE_INFINITY) {
      timer.fn = undefined
      return timer
    }
    this.#heap.push(timer)
    this.#live++
    return timer
  }

  /** Cancels a timer; unknown, foreign and already fired handles are ignored. */
  clearTimer(handle: TimerHandle): void {
    if (!(handle instanceof VirtualTimer) || handle.owner !== this || handle.fn === undefined) return
    handle.fn = undefined
    this.#live--
    // Keep the heap small when many timers are cleared long before they are due (per-try timeouts).
    if (this.#heap.size > 1024 && this.#heap.size > 4 * this.#live) this.#heap.retain(isPending)
  }

  /** How many timers are scheduled and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#live
  }

  /** The due time of the next timer, or `undefined` when none is pending. */
  get nextTimerAt(): number | undefined {
    return this.#peek()?.at
  }

  /**
   * Moves time forward by `ms`, synchronously firing every timer due up to `now() + ms` in order,
   * including timers that callbacks schedule inside the window; `now()` equals each timer's due time
   * while it runs, and `now() + ms` at the end. Promise continuations run only after this returns:
   * use {@link VirtualClock.advanceAsync} for code that awaits timers.
   *
   * @returns how many timers fired
   */
  advance(ms: number): number {
    const target = this.#target(ms)
    return this.#exclusive(() => {
      let fired = 0
      for (let t = this.#due(target); t !== undefined; t = this.#due(target)) {
        this.#fire(t, ++fired)
      }
      this.#now = target
      return fired
    })
  }

  /**
   * Like {@link VirtualClock.advance}, but yields to the event loop (one `setImmediate` turn) before
   * the first timer and after each one, so that promise chains awaiting the timers (retries,
   * backoff sleeps, per-try timeouts of `balancer.execute()`) progress and can schedule further
   * timers inside the window. Do not combine with fake `setImmediate` (e.g. `vi.useFakeTimers()`).
   *
   * @returns how many timers fired
   */
  async advanceAsync(ms: number): Promise<number> {
    const target = this.#target(ms)
    this.#enter()
    try {
      let fired = 0
      await tick()
      for (let t = this.#due(target); t !== undefined; t = this.#due(target)) {
        this.#fire(t, ++fired)
        await tick()
      }
      this.#now = target
      return fired
    } finally {
      this.#running = false
    }
  }

  /**
   * Fires the earliest pending timer, moving `now()` to its due time (synchronously, like
   * `advance()`); `false` when no timer is pending. Handy for stepping through a scenario.
   */
  advanceToNext(): boolean {
    return this.#exclusive(() => {
      const t = this.#due(Number.POSITIVE_INFINITY)
      if (t === undefined) return false
      this.#fire(t, 1)
      return true
    })
  }

  /**
   * Fires timers in order, moving time forward, until none is pending (timers scheduled by callbacks
   * included). Throws when more than `limit` timers fire, e.g. for an interval that never stops.
   *
   * @param limit most timers to fire. @default the clock's `maxFirings`
   * @returns how many timers fired
   */
  runAll(limit: number = this.#maxFirings): number {
    return this.#exclusive(() => {
      let fired = 0
      for (let t = this.#due(Number.POSITIVE_INFINITY); t !== undefined; ) {
        if (fired >= limit)
          throw new Error(
            `VirtualClock.runAll(): more than ${limit} timers fired; a timer keeps rescheduling`,
          )
        this.#fire(t, ++fired)
        t = this.#due(Number.POSITIVE_INFINITY)
      }
      return fired
    })
  }

  #target(ms: number): number {
    if (!(ms >= 0) || !Number.isFinite(ms))
      throw new RangeError(`VirtualClock: expected a finite number of ms ≥ 0, got ${ms}`)
    return this.#now + ms
  }

  #enter(): void {
    if (this.#running)
      throw new Error('VirtualClock: advance() called while the clock is already advancing (re-entrant call)')
    this.#running = true
  }

  #exclusive<T>(fn: () => T): T {
    this.#enter()
    try {
      return fn()
    } finally {
      this.#running = false
    }
  }

  /** Removes and returns the next live timer due at or before `target`, or `undefined`. */
  #due(target: number): VirtualTimer | undefined {
    const t = this.#peek()
    if (t === undefined || t.at > target) return undefined
    this.#heap.pop()
    return t
  }

  #fire(t: VirtualTimer, count: number): void {
    if (count > this.#maxFirings)
      throw new Error(
        `VirtualClock: more than ${this.#maxFirings} timers fired in one call; a timer keeps rescheduling itself`,
      )
    const fn = t.fn!
    t.fn = undefined
    this.#live--
    this.#now = t.at
    fn()
  }

  /** The next live timer, dropping cleared ones from the top of the heap. */
  #peek(): VirtualTimer | undefined {
    const heap = this.#heap
    while (heap.size > 0 && heap.peek()!.fn === undefined) heap.pop()
    return heap.peek()
  }
}

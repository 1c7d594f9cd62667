/**
 * The time source every time-dependent part of Fulcrum reads. Inject a virtual clock
 * (`@fulcrum/testing`'s `VirtualClock`) to make EWMA decay, backoff, budgets and health intervals
 * deterministic in tests.
 */

/** An opaque timer handle returned by {@link Clock.setTimer}. */
export type TimerHandle = unknown

/**
 * A monotonic millisecond clock with timers.
 *
 * @example
 * ```ts
 * const clock: Clock = { now: () => performance.now(), setTimer: (fn, ms) => setTimeout(fn, ms), clearTimer: (h) => clearTimeout(h as never) }
 * ```
 */
export interface Clock {
  /** Monotonic time in milliseconds; only differences are meaningful. */
  now(): number
  /** Calls `fn` once after `ms` milliseconds. Timers must not keep the process alive. */
  setTimer(fn: () => void, ms: number): TimerHandle
  /** Cancels a timer from {@link Clock.setTimer}; unknown or fired handles are ignored. */
  clearTimer(handle: TimerHandle): void
}

/** The real clock: `performance.now()` and unref'd `setTimeout`, so timers never hold the process open. */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimer(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, ms)
    t.unref()
    return t
  },
  clearTimer(handle: TimerHandle): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>)
  },
})

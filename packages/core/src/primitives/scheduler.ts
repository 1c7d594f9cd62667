import type { Clock, TimerHandle } from '../clock.js'
import { DueHeap } from './due-heap.js'

/** Something a {@link Scheduler} runs: a handler object, so that scheduling needs no closure. */
export interface ScheduledTask {
  /** Called once when the task is due, with the clock's time. */
  run(now: number): void
}

/** A scheduled entry; pass it to {@link Scheduler.cancel}. */
export interface ScheduledEntry {
  /** Clock time the task is due at. */
  readonly at: number
  /** True once it ran or was cancelled. */
  readonly done: boolean
}

class Entry implements ScheduledEntry {
  done = false
  constructor(
    readonly at: number,
    readonly seq: number,
    readonly task: ScheduledTask,
  ) {}
}

/**
 * One timer for many tasks: health checks of every backend, ejection ends, breaker backoffs and
 * queue timeouts share a binary heap ordered by due time (ties in scheduling order), and only the
 * earliest entry holds a clock timer. Cancelling is O(1) (the entry is skipped when it surfaces).
 * Runs on any {@link Clock}, so a virtual clock drives it deterministically.
 *
 * @example
 * ```ts
 * const scheduler = sharedScheduler(clock)
 * const entry = scheduler.schedule({ run: (now) => probe(now) }, 5_000)
 * scheduler.cancel(entry)
 * ```
 */
export class Scheduler {
  readonly #clock: Clock
  readonly #heap = new DueHeap<Entry>()
  #seq = 0
  #timer: TimerHandle | undefined
  #timerAt = Number.POSITIVE_INFINITY
  #live = 0
  readonly #fire = (): void => this.#run()

  constructor(clock: Clock) {
    this.#clock = clock
  }

  /** Tasks scheduled and not yet run or cancelled. */
  get size(): number {
    return this.#live
  }

  /** Runs `task` once, `delayMs` from now (negative delays run at the next tick). */
  schedule(task: ScheduledTask, delayMs: number): ScheduledEntry {
    const entry = new Entry(this.#clock.now() + Math.max(0, delayMs), this.#seq++, task)
    this.#heap.push(entry)
    this.#live++
    if (entry.at < this.#timerAt) this.#arm(entry.at)
    return entry
  }

  /** Cancels an entry; entries that ran or were cancelled already are ignored. */
  cancel(entry: ScheduledEntry | undefined): void {
    if (entry === undefined || entry.done) return
    ;(entry as Entry).done = true
    this.#live--
    if (this.#live === 0) {
      this.#heap.clear()
      this.#disarm()
    } else if (this.#heap.size > 64 && this.#heap.size > 4 * this.#live) {
      // Many cancellations of far-off tasks must not pile up.
      this.#heap.retain(isLive)
    }
  }

  #arm(at: number): void {
    this.#disarm()
    this.#timerAt = at
    this.#timer = this.#clock.setTimer(this.#fire, Math.max(0, at - this.#clock.now()))
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer)
    this.#timer = undefined
    this.#timerAt = Number.POSITIVE_INFINITY
  }

  #run(): void {
    this.#timer = undefined
    this.#timerAt = Number.POSITIVE_INFINITY
    const now = this.#clock.now()
    const heap = this.#heap
    // Tasks scheduled while running (with no delay) wait for the next firing, never loop here.
    const limit = this.#seq
    for (let top = heap.peek(); top !== undefined; top = heap.peek()) {
      if (top.done) {
        heap.pop()
        continue
      }
      if (top.at > now || top.seq >= limit) break
      heap.pop()
      top.done = true
      this.#live--
      try {
        top.task.run(now)
      } catch (err) {
        queueMicrotask(() => {
          throw err
        })
      }
    }
    while (heap.peek()?.done === true) heap.pop()
    const next = heap.peek()
    if (next !== undefined) this.#arm(next.at)
  }
}

function isLive(e: Entry): boolean {
  return !e.done
}

const shared = new WeakMap<Clock, Scheduler>()

/**
 * The scheduler shared by everything that runs on `clock` (one heap and one timer per clock): the
 * balancer's health checks, outlier detection and breakers all use it.
 */
export function sharedScheduler(clock: Clock): Scheduler {
  let s = shared.get(clock)
  if (s === undefined) {
    s = new Scheduler(clock)
    shared.set(clock, s)
  }
  return s
}

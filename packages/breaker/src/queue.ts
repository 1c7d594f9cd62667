/**
 * The admission queue of `concurrencyLimit()`: a FIFO of waiters ordered by the time each request
 * first queued. This is the slow path: one small object (and its promise) per queued request.
 */
import type { ScheduledEntry, ScheduledTask } from '@fulcrum/core'

/** @internal What a waiter reports to its queue's owner. */
export interface WaiterHost {
  /** The waiter's queue timeout passed. */
  timedOut(w: Waiter): void
  /** The waiter's signal aborted. */
  aborted(w: Waiter): void
}

/**
 * @internal One queued request: the scheduler task of its timeout and the listener of its abort
 * signal (handler objects, so no closures beyond the promise's own).
 */
export class Waiter implements ScheduledTask {
  prev: Waiter | undefined = undefined
  next: Waiter | undefined = undefined
  /** True while in a {@link WaitQueue}. */
  queued = false
  entry: ScheduledEntry | undefined = undefined
  readonly promise: Promise<void>
  readonly queuedAt: number
  readonly signal: AbortSignal | undefined
  readonly #host: WaiterHost
  #resolve!: () => void
  #reject!: (reason: unknown) => void

  constructor(queuedAt: number, signal: AbortSignal | undefined, host: WaiterHost) {
    this.queuedAt = queuedAt
    this.signal = signal
    this.#host = host
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
  }

  /** Scheduler task: the queue timeout. */
  run(): void {
    this.entry = undefined
    this.#host.timedOut(this)
  }

  /** Abort listener. */
  handleEvent(): void {
    this.#host.aborted(this)
  }

  /** Detaches from the signal and resolves: capacity may be free. */
  resolve(): void {
    this.signal?.removeEventListener('abort', this)
    this.#resolve()
  }

  /** Detaches from the signal and rejects with `reason`. */
  reject(reason: unknown): void {
    this.signal?.removeEventListener('abort', this)
    this.#reject(reason)
  }
}

/** @internal A doubly linked FIFO of waiters, ordered by `queuedAt` (ties: arrival order). */
export class WaitQueue {
  #head: Waiter | undefined = undefined
  #tail: Waiter | undefined = undefined
  #size = 0

  get size(): number {
    return this.#size
  }

  /** The most recently queued waiter's first-queued time, or +Infinity when empty. */
  get lastQueuedAt(): number {
    return this.#tail?.queuedAt ?? Number.POSITIVE_INFINITY
  }

  /**
   * Queues `w` behind every waiter that queued at or before it: O(1) for a new request, and a
   * request that is queued again after a hand-off it could not use gets its old place back.
   */
  insert(w: Waiter): void {
    if (w.queued) return
    w.queued = true
    let after = this.#tail
    while (after !== undefined && after.queuedAt > w.queuedAt) after = after.prev
    w.prev = after
    w.next = after === undefined ? this.#head : after.next
    if (w.next === undefined) this.#tail = w
    else w.next.prev = w
    if (after === undefined) this.#head = w
    else after.next = w
    this.#size++
  }

  /** Removes and returns the first waiter. */
  shift(): Waiter | undefined {
    const w = this.#head
    if (w !== undefined) this.remove(w)
    return w
  }

  /** Removes `w` from this queue; a waiter that is not queued is ignored. */
  remove(w: Waiter): void {
    if (!w.queued) return
    w.queued = false
    if (w.prev === undefined) this.#head = w.next
    else w.prev.next = w.next
    if (w.next === undefined) this.#tail = w.prev
    else w.next.prev = w.prev
    w.prev = w.next = undefined
    this.#size--
  }
}

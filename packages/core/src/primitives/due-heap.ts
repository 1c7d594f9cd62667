/** Something with a due time, ordered by `at`, then by `seq` (the order it was scheduled in). */
export interface DueItem {
  /** Clock time it is due at. */
  readonly at: number
  /** Tie-breaker: lower first, so that items due together keep their scheduling order. */
  readonly seq: number
}

/**
 * A binary min-heap of timed items, earliest `at` first and FIFO among equal times: the queue under
 * core's {@link Scheduler} and `@fulcrum/testing`'s `VirtualClock`. Cancelled items are usually left
 * in place and skipped when they surface; {@link DueHeap.retain} drops them in one pass.
 *
 * @example
 * ```ts
 * const heap = new DueHeap<{ at: number; seq: number }>()
 * heap.push({ at: 20, seq: 0 })
 * heap.push({ at: 10, seq: 1 })
 * heap.pop()?.at // 10
 * ```
 */
export class DueHeap<T extends DueItem> {
  #items: T[] = []

  /** Items held, cancelled ones included. */
  get size(): number {
    return this.#items.length
  }

  /** The earliest item, or `undefined` when empty. */
  peek(): T | undefined {
    return this.#items[0]
  }

  /** Adds an item: O(log n). */
  push(item: T): void {
    const heap = this.#items
    let i = heap.push(item) - 1
    while (i > 0) {
      const parent = (i - 1) >>> 1
      if (!before(item, heap[parent]!)) break
      heap[i] = heap[parent]!
      i = parent
    }
    heap[i] = item
  }

  /** Removes and returns the earliest item: O(log n). */
  pop(): T | undefined {
    const heap = this.#items
    const top = heap[0]
    const last = heap.pop()
    if (heap.length === 0 || last === undefined) return top
    let i = 0
    const n = heap.length
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const child = r < n && before(heap[r]!, heap[l]!) ? r : l
      if (!before(heap[child]!, last)) break
      heap[i] = heap[child]!
      i = child
    }
    heap[i] = last
    return top
  }

  /** Keeps only the items `keep` accepts (e.g. not cancelled), rebuilding the heap: O(n log n). */
  retain(keep: (item: T) => boolean): void {
    const live = this.#items.filter(keep)
    this.#items = []
    for (const item of live) this.push(item)
  }

  /** Drops every item. */
  clear(): void {
    this.#items.length = 0
  }
}

function before(a: DueItem, b: DueItem): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

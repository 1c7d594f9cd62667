import type { Backend } from './backend.js'

/**
 * A small set of backends: the backends already tried by one request, plus, during a pick, those a
 * plugin vetoed. Strategies must never return a member. It is a plain array with a linear `has()`,
 * because a request tries a handful of backends at most, and it can be cleared and reused so that a
 * caller's per-request state needs no new set per attempt.
 *
 * @example
 * ```ts
 * const tried = new BackendSet()
 * const first = lb.pick(ctx, tried)   // adds nothing: the caller decides what counts as tried
 * tried.add(first.backend)
 * const second = lb.pick(ctx, tried)  // never first.backend
 * ```
 */
export class BackendSet {
  readonly #items: Backend[] = []

  /** Number of members. */
  get size(): number {
    return this.#items.length
  }

  /** True when `backend` is a member. */
  has(backend: Backend): boolean {
    const items = this.#items
    for (let i = 0; i < items.length; i++) if (items[i] === backend) return true
    return false
  }

  /** Adds `backend` (no-op if present). */
  add(backend: Backend): void {
    if (!this.has(backend)) this.#items.push(backend)
  }

  /** Drops members added after the set had `size` members (undoes temporary additions). */
  truncate(size: number): void {
    if (size < this.#items.length) this.#items.length = size
  }

  /** Removes every member. */
  clear(): void {
    this.#items.length = 0
  }

  /** The members, in insertion order. */
  values(): readonly Backend[] {
    return this.#items
  }
}

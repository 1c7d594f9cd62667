/**
 * A sum over a sliding time window, kept in `buckets` slices (Finagle `WindowedAdder`): adding is
 * O(1) amortised, reading sums the live slices, and a slice older than the window is dropped.
 * Reads and writes take the current time, so it runs on any injected clock.
 */
export class RollingWindow {
  /** Window length in ms. */
  readonly windowMs: number
  readonly #sliceMs: number
  readonly #slices: Float64Array
  #slice = 0
  #sliceStart = Number.NEGATIVE_INFINITY

  /**
   * @param windowMs window length in ms (> 0)
   * @param buckets number of slices; more slices expire values more smoothly. @default 10
   */
  constructor(windowMs: number, buckets = 10) {
    this.windowMs = windowMs
    this.#sliceMs = windowMs / buckets
    this.#slices = new Float64Array(buckets)
  }

  #advance(now: number): void {
    const n = this.#slices.length
    if (this.#sliceStart === Number.NEGATIVE_INFINITY) {
      this.#sliceStart = now
      return
    }
    let steps = Math.floor((now - this.#sliceStart) / this.#sliceMs)
    if (steps <= 0) return
    if (steps >= n) {
      this.#slices.fill(0)
      this.#sliceStart += steps * this.#sliceMs
      return
    }
    this.#sliceStart += steps * this.#sliceMs
    while (steps-- > 0) {
      this.#slice = (this.#slice + 1) % n
      this.#slices[this.#slice] = 0
    }
  }

  /** Adds `value` (may be negative) at time `now`. */
  add(value: number, now: number): void {
    this.#advance(now)
    this.#slices[this.#slice]! += value
  }

  /** The sum of the values added within the window ending at `now`. */
  sum(now: number): number {
    this.#advance(now)
    let s = 0
    for (let i = 0; i < this.#slices.length; i++) s += this.#slices[i]!
    return s
  }

  /** Forgets every value. */
  reset(): void {
    this.#slices.fill(0)
    this.#sliceStart = Number.NEGATIVE_INFINITY
  }
}

/**
 * @internal Requests and failures over a sliding window, in `buckets` time slices that share one
 * clock (Finagle's windowed adder, two counters at once): recording advances the slices once for
 * both counts, which halves the work of two separate windows on the release path.
 */
export class OutcomeWindow {
  readonly #sliceMs: number
  readonly #requests: Float64Array
  readonly #failures: Float64Array
  #slice = 0
  #sliceStart = Number.NEGATIVE_INFINITY

  constructor(windowMs: number, buckets: number) {
    this.#sliceMs = windowMs / buckets
    this.#requests = new Float64Array(buckets)
    this.#failures = new Float64Array(buckets)
  }

  /** Records one request at `now`, a failure when `failed`. */
  record(failed: boolean, now: number): void {
    if (now - this.#sliceStart >= this.#sliceMs) this.#advance(now)
    this.#requests[this.#slice]!++
    if (failed) this.#failures[this.#slice]!++
  }

  /** Requests in the window ending at `now`. */
  requests(now: number): number {
    this.#advance(now)
    return sum(this.#requests)
  }

  /** Failures in the window ending at `now` (call after {@link OutcomeWindow.requests}). */
  failures(): number {
    return sum(this.#failures)
  }

  /** Forgets everything. */
  reset(): void {
    this.#requests.fill(0)
    this.#failures.fill(0)
    this.#sliceStart = Number.NEGATIVE_INFINITY
  }

  #advance(now: number): void {
    const n = this.#requests.length
    if (this.#sliceStart === Number.NEGATIVE_INFINITY) {
      this.#sliceStart = now
      return
    }
    let steps = Math.floor((now - this.#sliceStart) / this.#sliceMs)
    if (steps <= 0) return
    this.#sliceStart += steps * this.#sliceMs
    if (steps >= n) {
      this.#requests.fill(0)
      this.#failures.fill(0)
      return
    }
    while (steps-- > 0) {
      this.#slice = (this.#slice + 1) % n
      this.#requests[this.#slice] = 0
      this.#failures[this.#slice] = 0
    }
  }
}

function sum(a: Float64Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i]!
  return s
}

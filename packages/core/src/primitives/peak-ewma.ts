/**
 * Peak-sensitive exponentially weighted moving average of latency (Finagle `PeakEwma`, tower
 * `load::PeakEwma`): a sample above the current estimate replaces it at once; other samples blend in
 * with weight `1 - e^(-Δt/τ)`; reading the estimate decays it toward zero with elapsed time, so a slow
 * backend that stops receiving traffic is retried eventually.
 */
export class PeakEwma {
  /** Mean lifetime τ of a sample, in ms. Half-life is τ·ln 2. */
  readonly decayMs: number
  #value = 0
  #at = 0
  #seen = false

  /** @param decayMs mean lifetime of a sample; Finagle and Linkerd use 10 s. @default 10_000 */
  constructor(decayMs = 10_000) {
    this.decayMs = decayMs
  }

  /** True once at least one sample was observed. */
  get hasSample(): boolean {
    return this.#seen
  }

  /** Records a latency sample `valueMs` observed at time `now` (ms). */
  observe(valueMs: number, now: number): void {
    if (!this.#seen || valueMs > this.#value) {
      this.#value = valueMs
      this.#seen = true
    } else {
      const elapsed = now - this.#at
      const w = elapsed > 0 ? Math.exp(-elapsed / this.decayMs) : 1
      this.#value = valueMs * (1 - w) + this.#value * w
    }
    this.#at = now
  }

  /** The estimate at time `now`, decayed toward zero since the last sample. 0 without samples. */
  value(now: number): number {
    if (!this.#seen) return 0
    const elapsed = now - this.#at
    return elapsed > 0 ? this.#value * Math.exp(-elapsed / this.decayMs) : this.#value
  }

  /** The last stored estimate, without decay (for snapshots). */
  get raw(): number {
    return this.#value
  }
}

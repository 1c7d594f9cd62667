import { type Clock, InvalidOptionError, type TimerHandle } from '@fulcrum/core'
import type { Distribution } from './distributions.js'
import type { SeededRandom } from './seeded-random.js'
import type { SimulatedBackendEvent } from './simulate-options.js'

/** How long a dead backend takes to refuse a connection, in virtual ms. */
export const REFUSE_MS = 1

/** @internal The error a simulated backend fails with; `code` is what core's `classifyError()` reads. */
export class SimulatedFailure extends Error {
  readonly code: 'ECONNREFUSED' | 'ECONNRESET'
  constructor(code: 'ECONNREFUSED' | 'ECONNRESET', id: string) {
    super(
      code === 'ECONNREFUSED'
        ? `simulated backend ${id} refused the connection`
        : `simulated backend ${id} reset`,
    )
    this.name = 'SimulatedFailure'
    this.code = code
  }
}

/** A {@link SimulatedFailure} without a stack trace: it would only point into the simulator, and costs. */
function failure(code: 'ECONNREFUSED' | 'ECONNRESET', id: string): SimulatedFailure {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new SimulatedFailure(code, id)
  } finally {
    Error.stackTraceLimit = limit
  }
}

/** An attempt in flight on a simulated backend; it is its own abort listener (`handleEvent`). */
class InFlight {
  timer: TimerHandle = undefined
  constructor(
    readonly set: Set<InFlight>,
    readonly clock: Clock,
    readonly signal: AbortSignal,
    readonly value: string,
    readonly failure: SimulatedFailure | undefined,
    readonly resolve: (value: string) => void,
    readonly reject: (reason: unknown) => void,
  ) {}

  /** Ends the attempt: detaches it and settles its promise with `error`, or as planned. */
  settle(error: unknown): void {
    if (!this.set.delete(this)) return
    this.clock.clearTimer(this.timer)
    this.signal.removeEventListener('abort', this)
    if (error !== undefined) this.reject(error)
    else if (this.failure !== undefined) this.reject(this.failure)
    else this.resolve(this.value)
  }

  /** The attempt's signal aborted (per-try timeout, deadline, caller): reject with its reason. */
  handleEvent(): void {
    this.settle(this.signal.reason ?? new Error('aborted'))
  }
}

/** @internal How a simulated backend is configured. */
export interface SimulatedBackendConfig {
  readonly id: string
  /** Option path for errors about the latency distribution, e.g. `backends[1].latency`. */
  readonly path: string
  readonly latency: Distribution
  readonly errorRate: number
  readonly clock: Clock
  readonly random: SeededRandom
}

/**
 * @internal The behaviour behind one backend of `simulate()`: each `call()` answers after a latency
 * drawn from its distribution on the virtual clock, or fails (`ECONNRESET` at random, `ECONNREFUSED`
 * when dead), and rejects as soon as the attempt's signal aborts.
 */
export class SimulatedBackend {
  readonly id: string
  readonly #latency: Distribution
  #errorRate: number
  #slow = 1
  #alive = true
  readonly #path: string
  readonly #clock: Clock
  readonly #random: SeededRandom
  /** Latencies of health probes, drawn apart so that adding a health check leaves requests' draws alone. */
  readonly #probeRandom: SeededRandom
  readonly #inflight = new Set<InFlight>()
  readonly #probes = new Set<InFlight>()

  constructor(config: SimulatedBackendConfig) {
    this.id = config.id
    this.#path = config.path
    this.#latency = config.latency
    this.#errorRate = config.errorRate
    this.#clock = config.clock
    this.#random = config.random
    this.#probeRandom = config.random.fork('probes')
  }

  /** False after a `die` event, until `recover`. */
  get alive(): boolean {
    return this.#alive
  }

  /** Attempts in flight. */
  get inflight(): number {
    return this.#inflight.size
  }

  /**
   * One attempt: resolves with the backend id after the sampled latency, or rejects. Throws
   * `InvalidOptionError` (synchronously) when the latency distribution returns a bad sample.
   */
  call(signal: AbortSignal): Promise<string> {
    if (signal.aborted) return Promise.reject(signal.reason)
    let delay = REFUSE_MS
    let failed: SimulatedFailure | undefined
    if (!this.#alive) {
      failed = failure('ECONNREFUSED', this.id)
    } else {
      const sample = this.#latency.sample(this.#random)
      if (typeof sample !== 'number' || !(sample >= 0) || !Number.isFinite(sample))
        throw new InvalidOptionError(
          this.#path,
          `the distribution returned ${String(sample)}, not a finite number ≥ 0`,
        )
      delay = sample * this.#slow
      // Drawn only when needed, so an error rate of 0 leaves the latency stream untouched.
      if (this.#errorRate > 0 && this.#random.next() < this.#errorRate)
        failed = failure('ECONNRESET', this.id)
    }
    return new Promise<string>((resolve, reject) => {
      const entry = new InFlight(this.#inflight, this.#clock, signal, this.id, failed, resolve, reject)
      this.#inflight.add(entry)
      entry.timer = this.#clock.setTimer(() => entry.settle(undefined), delay)
      signal.addEventListener('abort', entry, { once: true })
    })
  }

  /**
   * One health probe, modelled as a `GET /healthz`: resolves after a latency drawn from the
   * distribution (× `slow`) while the backend is alive, whatever its `errorRate`; rejects with
   * `ECONNREFUSED` after 1 ms while it is dead, with `ECONNRESET` when it dies meanwhile, and with the
   * signal's reason on abort. Not an attempt: `inflight` does not count it.
   */
  probe(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason)
    let delay = REFUSE_MS
    let failed: SimulatedFailure | undefined
    if (!this.#alive) failed = failure('ECONNREFUSED', this.id)
    else {
      const sample = this.#latency.sample(this.#probeRandom)
      if (typeof sample !== 'number' || !(sample >= 0) || !Number.isFinite(sample))
        return Promise.reject(
          new InvalidOptionError(
            this.#path,
            `the distribution returned ${String(sample)}, not a finite number ≥ 0`,
          ),
        )
      delay = sample * this.#slow
    }
    return new Promise<void>((resolve, reject) => {
      const entry = new InFlight(this.#probes, this.#clock, signal, this.id, failed, () => resolve(), reject)
      this.#probes.add(entry)
      entry.timer = this.#clock.setTimer(() => entry.settle(undefined), delay)
      signal.addEventListener('abort', entry, { once: true })
    })
  }

  /** Applies a scheduled change. */
  apply(event: SimulatedBackendEvent): void {
    if (event.slow !== undefined) this.#slow = event.slow
    if (event.errorRate !== undefined) this.#errorRate = event.errorRate
    if (event.recover) this.#alive = true
    if (event.die) this.#die()
  }

  /** Crashes: every attempt and probe in flight fails with `ECONNRESET` now; later ones are refused. */
  #die(): void {
    this.#alive = false
    for (const entry of [...this.#inflight, ...this.#probes]) entry.settle(failure('ECONNRESET', this.id))
  }
}

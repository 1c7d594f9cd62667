import type { FailureKind, Outcome } from '@fulcrum/core'
import type {
  BackendReport,
  BucketBackendStats,
  LatencySummary,
  SimulationReport,
  TimelineBucket,
} from './simulation-report.js'

/** @internal Exact latency statistics of `samples` (the array is sorted in place). */
export function summarize(samples: number[]): LatencySummary {
  const n = samples.length
  if (n === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 }
  samples.sort((a, b) => a - b)
  let sum = 0
  for (let i = 0; i < n; i++) sum += samples[i]!
  const rank = (p: number): number => samples[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]!
  return {
    count: n,
    min: samples[0]!,
    mean: sum / n,
    p50: rank(0.5),
    p90: rank(0.9),
    p99: rank(0.99),
    max: samples[n - 1]!,
  }
}

/** A short stable name for a client-visible error. */
function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const { code, name } = err as { code?: unknown; name?: unknown }
    if (typeof code === 'string' && code !== '') return code
    if (typeof name === 'string' && name !== '') return name
  }
  return typeof err
}

interface BackendAcc {
  attempts: number
  successes: number
  failures: number
  cancelled: number
  readonly kinds: Map<FailureKind, number>
  readonly latencies: number[]
}

interface BucketAcc {
  requests: number
  failed: number
  /** Per backend index. */
  readonly attempts: number[]
  readonly successes: number[]
  readonly failures: number[]
}

/** @internal Collects a simulation's events and turns them into a {@link SimulationReport}. */
export class Recorder {
  retries = 0
  retriesDenied = 0
  readonly #timelineMs: number
  readonly #ids: string[] = []
  readonly #index = new Map<string, number>()
  readonly #backends: BackendAcc[] = []
  readonly #buckets: BucketAcc[] = []
  readonly #requestLatencies: number[] = []
  readonly #errors = new Map<string, number>()
  #started = 0
  #succeeded = 0
  #failed = 0

  constructor(ids: readonly string[], timelineMs: number) {
    this.#timelineMs = timelineMs
    for (const id of ids) this.#backend(id)
  }

  /** Requests started so far. */
  get started(): number {
    return this.#started
  }

  /** Requests started and not yet settled. */
  get pending(): number {
    return this.#started - this.#succeeded - this.#failed
  }

  #backend(id: string): number {
    let i = this.#index.get(id)
    if (i === undefined) {
      i = this.#ids.length
      this.#ids.push(id)
      this.#index.set(id, i)
      this.#backends.push({
        attempts: 0,
        successes: 0,
        failures: 0,
        cancelled: 0,
        kinds: new Map(),
        latencies: [],
      })
    }
    return i
  }

  #bucket(t: number): BucketAcc {
    const k = Math.max(0, Math.floor(t / this.#timelineMs))
    while (this.#buckets.length <= k)
      this.#buckets.push({ requests: 0, failed: 0, attempts: [], successes: [], failures: [] })
    return this.#buckets[k]!
  }

  /** One attempt on backend `id` was released at `now`, `latencyMs` after it started. */
  attempt(id: string, startedAt: number, outcome: Outcome, latencyMs: number): void {
    const i = this.#backend(id)
    const b = this.#backends[i]!
    const bucket = this.#bucket(startedAt)
    b.attempts++
    bucket.attempts[i] = (bucket.attempts[i] ?? 0) + 1
    b.latencies.push(latencyMs)
    if (outcome.ok) {
      b.successes++
      bucket.successes[i] = (bucket.successes[i] ?? 0) + 1
    } else if (outcome.error === 'cancelled') {
      b.cancelled++
    } else {
      const kind = outcome.error ?? 'error'
      b.failures++
      b.kinds.set(kind, (b.kinds.get(kind) ?? 0) + 1)
      bucket.failures[i] = (bucket.failures[i] ?? 0) + 1
    }
  }

  /** A request arrived at `t`. */
  arrival(t: number): void {
    this.#started++
    this.#bucket(t).requests++
  }

  /** The request that arrived at `arrivedAt` ended after `latencyMs`; `error` is set when it failed. */
  settled(arrivedAt: number, latencyMs: number, failed: boolean, error: unknown): void {
    this.#requestLatencies.push(latencyMs)
    if (!failed) {
      this.#succeeded++
      return
    }
    this.#failed++
    this.#bucket(arrivedAt).failed++
    const code = errorCode(error)
    this.#errors.set(code, (this.#errors.get(code) ?? 0) + 1)
  }

  /** The report; call once, at the end. */
  report(seed: number | string, durationMs: number, simulatedMs: number): SimulationReport {
    const totalAttempts = this.#backends.reduce((sum, b) => sum + b.attempts, 0)
    const backends: Record<string, BackendReport> = {}
    this.#ids.forEach((id, i) => {
      const b = this.#backends[i]!
      backends[id] = {
        attempts: b.attempts,
        successes: b.successes,
        failures: b.failures,
        cancelled: b.cancelled,
        share: totalAttempts === 0 ? 0 : b.attempts / totalAttempts,
        failuresByKind: Object.fromEntries(b.kinds),
        latency: summarize(b.latencies),
      }
    })
    this.#bucket((Math.ceil(durationMs / this.#timelineMs) - 1) * this.#timelineMs) // cover durationMs
    const timeline = this.#buckets.map((bucket, k): TimelineBucket => {
      const perBackend: Record<string, BucketBackendStats> = {}
      this.#ids.forEach((id, i) => {
        perBackend[id] = {
          attempts: bucket.attempts[i] ?? 0,
          successes: bucket.successes[i] ?? 0,
          failures: bucket.failures[i] ?? 0,
        }
      })
      return { t: k * this.#timelineMs, requests: bucket.requests, failed: bucket.failed, perBackend }
    })
    return {
      seed,
      durationMs,
      simulatedMs,
      timelineMs: this.#timelineMs,
      requests: {
        total: this.#started,
        succeeded: this.#succeeded,
        failed: this.#failed,
        unfinished: this.pending,
        retries: this.retries,
        retriesDenied: this.retriesDenied,
        errors: Object.fromEntries(this.#errors),
        latency: summarize(this.#requestLatencies),
      },
      backends,
      timeline,
    }
  }
}

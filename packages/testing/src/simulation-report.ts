import type { FailureKind } from '@fulcrum/core'

/**
 * Latency statistics of a set of samples, in ms, computed exactly from the sorted samples
 * (nearest-rank percentiles). Every field is 0 when there are no samples.
 *
 * @example
 * ```ts
 * expect(report.requests.latency.p99).toBeLessThan(50)
 * ```
 */
export interface LatencySummary {
  /** Number of samples. */
  readonly count: number
  /** Smallest sample. */
  readonly min: number
  /** Arithmetic mean. */
  readonly mean: number
  /** Median. */
  readonly p50: number
  /** 90th percentile. */
  readonly p90: number
  /** 99th percentile. */
  readonly p99: number
  /** Largest sample. */
  readonly max: number
}

/**
 * What one backend saw during a simulation: the attempts the balancer released on it.
 *
 * @example
 * ```ts
 * expect(report.backends.c!.share).toBeLessThan(0.1)
 * ```
 */
export interface BackendReport {
  /** Attempts picked for this backend (first tries and retries). */
  readonly attempts: number
  /** Attempts that succeeded. */
  readonly successes: number
  /** Attempts that failed against the backend (refused, reset, timed out …). */
  readonly failures: number
  /** Attempts cancelled (not held against the backend). */
  readonly cancelled: number
  /** This backend's share of all attempts, in [0, 1]. */
  readonly share: number
  /** Failures by kind, as core's `classifyError()` saw them (`connect`, `reset`, `timeout` …). */
  readonly failuresByKind: Readonly<Partial<Record<FailureKind, number>>>
  /** Latency of every attempt, failed ones included, as measured by the balancer. */
  readonly latency: LatencySummary
}

/**
 * What the clients saw: one entry per `balancer.execute()` call, retries included in its latency.
 *
 * @example
 * ```ts
 * expect(report.requests.failed).toBe(0)
 * ```
 */
export interface RequestsReport {
  /** Requests started. */
  readonly total: number
  /** Requests whose `execute()` resolved. */
  readonly succeeded: number
  /** Requests whose `execute()` rejected (client-visible failures, after retries). */
  readonly failed: number
  /** Requests still pending when the simulation gave up waiting for them (normally 0). */
  readonly unfinished: number
  /** Retries made (`request:retry` events). */
  readonly retries: number
  /** Retries refused by the retry budget (`request:retry-denied` events). */
  readonly retriesDenied: number
  /** Client-visible failures by error `code` (or name), e.g. `{ ECONNREFUSED: 3, FULCRUM_ERR_NO_BACKEND: 1 }`. */
  readonly errors: Readonly<Record<string, number>>
  /** Latency of every settled request, failed ones included, from `execute()` to its end. */
  readonly latency: LatencySummary
}

/**
 * One backend's activity in a timeline bucket.
 *
 * @example
 * ```ts
 * const { attempts, successes } = report.timeline[3]!.perBackend.a!
 * ```
 */
export interface BucketBackendStats {
  /** Attempts started in the bucket. */
  readonly attempts: number
  /** Of those, how many succeeded. */
  readonly successes: number
  /** Of those, how many failed. */
  readonly failures: number
}

/**
 * A slice of the simulation's timeline, `timelineMs` wide.
 *
 * @example
 * ```ts
 * const late = report.timeline.filter((b) => b.t >= 20_000)
 * expect(late.every((b) => b.perBackend.c!.successes === 0)).toBe(true)
 * ```
 */
export interface TimelineBucket {
  /** Start of the bucket, in virtual ms. */
  readonly t: number
  /** Requests that arrived in the bucket. */
  readonly requests: number
  /** Of those, how many failed (client-visible). */
  readonly failed: number
  /** Per backend id (every backend, zeros included): attempts started in the bucket. */
  readonly perBackend: Readonly<Record<string, BucketBackendStats>>
}

/**
 * The result of `simulate()`: plain, JSON-friendly data, identical for identical options and seed.
 *
 * @example
 * ```ts
 * const report = await simulate({ ... })
 * console.table(Object.entries(report.backends).map(([id, b]) => ({ id, share: b.share, p99: b.latency.p99 })))
 * ```
 */
export interface SimulationReport {
  /** The seed used. */
  readonly seed: number | string
  /** The load duration asked for, in ms. */
  readonly durationMs: number
  /** Virtual time when the last request ended, in ms (≥ `durationMs` once in-flight requests drain). */
  readonly simulatedMs: number
  /** The timeline's bucket width, in ms. */
  readonly timelineMs: number
  /** What the clients saw. */
  readonly requests: RequestsReport
  /** Per backend id, in declaration order. */
  readonly backends: Readonly<Record<string, BackendReport>>
  /** Activity over time, one bucket per `timelineMs`, covering at least `durationMs`. */
  readonly timeline: readonly TimelineBucket[]
}

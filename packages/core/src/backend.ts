import type { FailureKind, Outcome } from './outcome.js'
import { PeakEwma } from './primitives/peak-ewma.js'

/** Whether health checks and outlier detection let a backend take traffic. */
export type HealthStatus = 'healthy' | 'unhealthy'

/**
 * The operator's wish for a backend. `draining`: no new picks, but requests already in flight and
 * sticky clients continue. `disabled`: no traffic at all (maintenance).
 */
export type AdminState = 'active' | 'draining' | 'disabled'

/** The combined state: `disabled` > `draining` > `unhealthy` > `healthy`. */
export type BackendState = 'healthy' | 'unhealthy' | 'draining' | 'disabled'

/**
 * How a backend is declared: a URL (`'http://10.0.0.1:8080'`), a `host:port` string, or an object.
 *
 * @example
 * ```ts
 * const specs: BackendSpec[] = ['http://127.0.0.1:9001', '127.0.0.1:9002', { url: 'http://127.0.0.1:9003', weight: 2, zone: 'b' }]
 * ```
 */
export type BackendSpec = string | BackendInit

/** The object form of a {@link BackendSpec}. */
export interface BackendInit {
  /** Stable identity; health and statistics are keyed by it. @default the URL's origin, or `host:port` */
  readonly id?: string
  /** Base URL (`http:`, `https:`, `tcp:` …). Either `url` or `host` + `port` is required. */
  readonly url?: string
  /** Host name or IP literal. */
  readonly host?: string
  /** TCP port (1–65535). */
  readonly port?: number
  /** Relative weight, a finite number ≥ 0; 0 takes no new picks. @default 1 */
  readonly weight?: number
  /** Locality (zone, rack) for zone-aware strategies and metrics. */
  readonly zone?: string
  /** Free-form metadata (labels, TLS options for a proxy …); Fulcrum never reads it. */
  readonly meta?: Readonly<Record<string, unknown>>
  /** Initial admin state. @default 'active' */
  readonly admin?: AdminState
}

/** How backends keep statistics (balancer options). */
export interface BackendStatsOptions {
  /** Decay time of the latency EWMA, in ms. */
  readonly latencyDecayMs: number
  /** Latency a failure counts as, at least, in ms. */
  readonly failurePenaltyMs: number
}

/** Counters kept per backend for its whole life in the pool (and across removal and re-adding). */
export interface BackendCounters {
  /** Requests released. */
  requests: number
  /** Releases with `ok: true`. */
  successes: number
  /** Releases that counted against the backend. */
  failures: number
  /** Releases with `error: 'cancelled'`. */
  cancelled: number
  /** Consecutive failures since the last success. */
  consecutiveFailures: number
  /** Clock time of the last failure, or -1. */
  lastFailureAt: number
  /** Kind of the last failure. */
  lastFailure: FailureKind | undefined
}

/**
 * A backend of a pool: its identity, weight and states, and the live statistics strategies read
 * (in-flight count, latency EWMA). Instances are created and mutated by the pool only; read them
 * freely, change them with the balancer's `setWeight()`, `drain()`, `disable()` and health sources.
 */
export class Backend {
  /** Stable identity. */
  readonly id: string
  /** The URL given, normalised, or `undefined` for `host:port` backends. */
  readonly url: string | undefined
  /** Host name or IP literal (IPv6 without brackets). */
  readonly host: string
  /** TCP port. */
  readonly port: number
  /** `host:port` (IPv6 in brackets). */
  readonly address: string
  /** Zone or locality, if declared. */
  readonly zone: string | undefined
  /** User metadata, if declared. */
  meta: Readonly<Record<string, unknown>>
  /** Current weight (≥ 0), as configured. */
  weight: number
  /** The slow-start factor in (0, 1] a health source set; 1 outside a ramp. */
  weightFactor = 1
  /**
   * `weight × weightFactor`: the weight weighted and load-aware strategies use (a backend warming
   * up after joining or recovering takes less traffic). Hashing strategies use `weight`.
   */
  effectiveWeight: number
  /** Requests picked and not yet released. */
  inflight = 0
  /** Latency estimate (peak-sensitive EWMA), fed on release. */
  readonly latency: PeakEwma
  /** Lifetime counters. */
  readonly counters: BackendCounters = {
    requests: 0,
    successes: 0,
    failures: 0,
    cancelled: 0,
    consecutiveFailures: 0,
    lastFailureAt: -1,
    lastFailure: undefined,
  }
  /** Operator state. */
  admin: AdminState
  /** Health, from every health source (unhealthy if any source says so). */
  health: HealthStatus = 'healthy'
  /** Why the backend is unhealthy, per health source; empty when healthy. */
  readonly unhealthyReasons: Map<string, string> = new Map()
  readonly #failurePenaltyMs: number

  /** @internal Use the balancer's `add()`; this constructor expects validated input. */
  constructor(
    id: string,
    host: string,
    port: number,
    url: string | undefined,
    init: BackendInit,
    stats: BackendStatsOptions,
  ) {
    this.id = id
    this.host = host
    this.port = port
    this.url = url
    this.address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
    this.zone = init.zone
    this.meta = init.meta ?? {}
    this.weight = init.weight ?? 1
    this.effectiveWeight = this.weight
    this.admin = init.admin ?? 'active'
    this.latency = new PeakEwma(stats.latencyDecayMs)
    this.#failurePenaltyMs = stats.failurePenaltyMs
  }

  /** The combined state. */
  get state(): BackendState {
    if (this.admin === 'disabled') return 'disabled'
    if (this.admin === 'draining') return 'draining'
    return this.health
  }

  /** True when the backend may take new picks: active, healthy and weight > 0. */
  get eligible(): boolean {
    return this.admin === 'active' && this.health === 'healthy' && this.weight > 0
  }

  /** @internal Books a released request. */
  record(outcome: Outcome, latencyMs: number, now: number): void {
    const c = this.counters
    c.requests++
    if (outcome.ok) {
      c.successes++
      c.consecutiveFailures = 0
      this.latency.observe(latencyMs, now)
    } else if (outcome.error === 'cancelled') {
      c.cancelled++
    } else {
      c.failures++
      c.consecutiveFailures++
      c.lastFailureAt = now
      c.lastFailure = outcome.error ?? 'error'
      // A failure counts as at least `failurePenaltyMs` of latency: a backend that refuses
      // connections in 1 ms must not attract latency-aware strategies (the black-hole effect).
      this.latency.observe(Math.max(latencyMs, this.#failurePenaltyMs), now)
    }
  }

  /** A JSON-friendly view for snapshots and logs. */
  toJSON(): BackendSnapshot {
    return {
      id: this.id,
      address: this.address,
      url: this.url,
      zone: this.zone,
      weight: this.weight,
      effectiveWeight: this.effectiveWeight,
      state: this.state,
      admin: this.admin,
      health: this.health,
      unhealthyReasons: Object.fromEntries(this.unhealthyReasons),
      inflight: this.inflight,
      latencyMs: this.latency.raw,
      requests: this.counters.requests,
      failures: this.counters.failures,
      consecutiveFailures: this.counters.consecutiveFailures,
      meta: this.meta,
    }
  }
}

/** The JSON view of a {@link Backend}. */
export interface BackendSnapshot {
  readonly id: string
  readonly address: string
  readonly url: string | undefined
  readonly zone: string | undefined
  readonly weight: number
  readonly effectiveWeight: number
  readonly state: BackendState
  readonly admin: AdminState
  readonly health: HealthStatus
  readonly unhealthyReasons: Readonly<Record<string, string>>
  readonly inflight: number
  readonly latencyMs: number
  readonly requests: number
  readonly failures: number
  readonly consecutiveFailures: number
  readonly meta: Readonly<Record<string, unknown>>
}

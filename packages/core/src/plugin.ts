import type { Backend } from './backend.js'
import type { Clock } from './clock.js'
import type { BalancerEventName, BalancerEvents, BalancerListener, PluginEventName } from './events.js'
import type { Outcome } from './outcome.js'
import type { Scheduler } from './primitives/scheduler.js'
import type { Random } from './random.js'
import type { PickContext } from './strategy.js'

/** Information about the current attempt of `execute()`. */
export interface AttemptInfo {
  /** 0 for the first attempt, 1 for the first retry … */
  readonly attempt: number
  /** Time left before the overall deadline, in ms (`Infinity` without one). */
  readonly remainingMs: number
}

/** One attempt of `execute()`: call `backend`, honour `signal`. */
export type AttemptFn<T = unknown> = (
  backend: Backend,
  signal: AbortSignal,
  info: AttemptInfo,
) => Promise<T> | T

/** What plugins and health checks may do to the balancer they are attached to. */
export interface BalancerControl {
  /** The balancer's name. */
  readonly name: string
  /** The balancer's clock; read time only from here. */
  readonly clock: Clock
  /** The balancer's random source. */
  readonly random: Random
  /** Every backend in the pool, in insertion order (a fresh array each call). */
  backends(): readonly Backend[]
  /** The backend with this id, or `undefined`. */
  get(id: string): Backend | undefined
  /**
   * Sets this source's verdict on a backend. A backend is healthy when no source says otherwise;
   * a change publishes a new snapshot and emits `backend:state`.
   * @param source a stable name per health mechanism, e.g. `'active:http'`, `'outlier'`
   */
  setHealth(backend: Backend, source: string, healthy: boolean, reason: string): void
  /**
   * Scales a backend's weight for the weighted and load-aware strategies (slow start):
   * `effectiveWeight = weight × factor`, factor in (0, 1]. A change rebuilds the strategy; hashing
   * strategies keep using the configured weight, so keys do not move during a ramp.
   */
  setWeightFactor(backend: Backend, factor: number): void
  /** Runs `fn` and publishes one snapshot (one strategy rebuild) for all the changes it makes. */
  update<T>(fn: () => T): T
  /** The timer heap shared by everything on this balancer's clock: schedule work here, not with timers of your own. */
  readonly scheduler: Scheduler
  /** Emits a plugin event (`health:check`, `breaker:state`, `request:rejected`) to the balancer's listeners. */
  emit<E extends PluginEventName>(event: E, ...args: BalancerEvents[E]): void
  /** Subscribes to balancer events; returns the unsubscribe function. */
  on<E extends BalancerEventName>(event: E, listener: BalancerListener<E>): () => void
}

/**
 * Extends the balancer around a pick. Every member is optional:
 * - `accept` vetoes a candidate (open breaker, full backend); the strategy is asked again.
 * - `onAcquire` / `onRelease` see every attempt start and end (counters, probes, outlier detection).
 * - `wrap` wraps each attempt of `execute()` (timeouts, hedging, tracing). The first plugin given to
 *   `.use()` is the outermost wrapper.
 * Hooks run synchronously on the pick path: keep them O(1) and allocation-free.
 *
 * @example
 * ```ts
 * const maxTen: Plugin = { name: 'max-10', accept: (b) => b.inflight < 10 }
 * ```
 */
export interface Plugin<Ctx = PickContext> {
  /** Short name for snapshots and errors. */
  readonly name: string
  /** Called once by `build()`, before the first pick. */
  start?(control: BalancerControl): void
  /** Return false to veto `backend` for this pick. */
  accept?(backend: Backend, ctx: Ctx): boolean
  /** Called when `backend` was picked (its `inflight` already counts this request). */
  onAcquire?(backend: Backend, ctx: Ctx): void
  /** Called when an attempt on `backend` is released (its `inflight` no longer counts it). */
  onRelease?(backend: Backend, outcome: Outcome, latencyMs: number, now: number): void
  /** Wraps each attempt of `execute()`. */
  wrap?(next: AttemptFn): AttemptFn
  /**
   * Admission: called once per pick before any backend is selected; return false to refuse the
   * request, which then fails with `OverloadError` (`FULCRUM_ERR_OVERLOAD`), or waits in
   * {@link Plugin.waitForCapacity} when the caller queues.
   */
  admit?(ctx: Ctx): boolean
  /**
   * True when this plugin's `accept` vetoes mean "full" (a per-backend concurrency limit): a pick
   * whose every candidate it vetoed fails with `OverloadError` instead of `NoBackendError`.
   */
  readonly overload?: boolean
  /** The `retryAfterMs` of the `OverloadError` core raises for this plugin's refusals. @default 1000 */
  readonly retryAfterMs?: number
  /**
   * True for passive failure detectors (outlier detection, circuit breakers): when one is
   * configured, the balancer's built-in `maxFails` avoidance is off unless the balancer options set
   * `maxFails` explicitly.
   */
  readonly passive?: boolean
  /**
   * The queue of an admission plugin: resolves when capacity may be free (the caller then picks
   * again), rejects with `OverloadError` when the queue is full or `queuedAt` + the queue timeout
   * passes, and with the signal's reason on abort. `Balancer.acquireAsync()` calls it.
   */
  waitForCapacity?(ctx: Ctx, queuedAt: number, signal?: AbortSignal): Promise<void>
  /** Called by `balancer.close()`; stop timers, release resources. */
  close?(): void | Promise<void>
}

/**
 * A health mechanism: an active checker or a passive outlier detector. It is a {@link Plugin} whose
 * `start()` is required, because it drives the backends' health through `control.setHealth()`.
 */
export interface HealthCheck<Ctx = PickContext> extends Plugin<Ctx> {
  start(control: BalancerControl): void
}

/** Labels attached to a metric sample. */
export type MetricLabels = Readonly<Record<string, string>>

/**
 * A minimal metrics backend that `metricsObserver()` writes balancer events into; adapters for
 * Prometheus and OpenTelemetry implement it.
 */
export interface MetricsSink {
  /** Adds `value` to a monotonically increasing counter. */
  counter(name: string, value: number, labels: MetricLabels): void
  /** Sets a gauge. */
  gauge(name: string, value: number, labels: MetricLabels): void
  /** Records one observation into a histogram (durations in seconds). */
  histogram(name: string, value: number, labels: MetricLabels): void
}

/** Something that watches a balancer: subscribes in `attach()`, returns how to detach. */
export interface Observer {
  readonly name: string
  attach(control: BalancerControl): () => void
}

import type { Backend, BackendState } from './backend.js'
import type { Outcome } from './outcome.js'
import type { PoolSnapshot } from './strategy.js'

/** Payload of `backend:state`. */
export interface BackendStateEvent {
  readonly backend: Backend
  readonly from: BackendState
  readonly to: BackendState
  /** Who or what changed it: `'drain'`, `'active:http: status 503'`, `'outlier: 5 consecutive failures'` … */
  readonly reason: string
}

/** Payload of `backend:weight`. */
export interface BackendWeightEvent {
  readonly backend: Backend
  readonly from: number
  readonly to: number
}

/** Payload of `request:end`: one attempt was released. */
export interface RequestEndEvent {
  readonly backend: Backend
  readonly outcome: Outcome
  readonly latencyMs: number
  /** Clock time of the pick. */
  readonly startedAt: number
}

/** Payload of `request:retry`: `execute()` is about to retry on another backend. */
export interface RequestRetryEvent {
  /** The backend of the failed attempt. */
  readonly backend: Backend
  /** 1 for the first retry. */
  readonly retry: number
  /** The backoff before the retry, in ms. */
  readonly delayMs: number
  readonly error: unknown
}

/** Payload of `request:retry-denied`: a retry was possible but the retry budget was spent. */
export interface RetryDeniedEvent {
  readonly backend: Backend
  readonly error: unknown
}

/** Payload of `balancer:panic`: panic mode was entered (`panic: true`) or left. */
export interface PanicEvent {
  readonly panic: boolean
  readonly healthy: number
  readonly total: number
}

/** Payload of `health:check`: one active health check of a backend finished. */
export interface HealthCheckEvent {
  readonly backend: Backend
  /** The health source, e.g. `'active:http'`. */
  readonly source: string
  /** True when the check passed. */
  readonly ok: boolean
  /** Why it failed (`'status 503'`, `'timeout after 2000 ms'` …), or `'ok'`. */
  readonly reason: string
  /** How long the check took, in ms. */
  readonly latencyMs: number
}

/** The states of a circuit breaker. */
export type BreakerState = 'closed' | 'open' | 'half-open'

/** Payload of `breaker:state`: a backend's circuit breaker changed state. */
export interface BreakerStateEvent {
  readonly backend: Backend
  readonly from: BreakerState
  readonly to: BreakerState
  /** Why: `'5 consecutive failures'`, `'1 probe succeeded'`, `'backoff of 5000 ms elapsed'` … */
  readonly reason: string
}

/** Payload of `request:rejected`: admission control refused a request (a full limit or queue). */
export interface RequestRejectedEvent {
  /** The plugin that refused it. */
  readonly source: string
  /** Which limit: `'maxRequests'`, `'maxPending'`, `'queueTimeout'` … */
  readonly reason: string
}

/**
 * Every event a balancer emits (`noun:verb`, on eventemitter3).
 *
 * @example
 * ```ts
 * lb.on('backend:state', ({ backend, from, to, reason }) => log.info({ id: backend.id, from, to, reason }))
 * ```
 */
export interface BalancerEvents {
  'backend:add': [backend: Backend]
  'backend:remove': [backend: Backend]
  'backend:state': [event: BackendStateEvent]
  'backend:weight': [event: BackendWeightEvent]
  'pool:update': [snapshot: PoolSnapshot]
  'balancer:panic': [event: PanicEvent]
  'request:end': [event: RequestEndEvent]
  'request:retry': [event: RequestRetryEvent]
  'request:retry-denied': [event: RetryDeniedEvent]
  'request:rejected': [event: RequestRejectedEvent]
  'health:check': [event: HealthCheckEvent]
  'breaker:state': [event: BreakerStateEvent]
  'balancer:close': []
}

/** The events plugins and health checks may emit through `BalancerControl.emit()`. */
export type PluginEventName = 'health:check' | 'breaker:state' | 'request:rejected'

/** Names of {@link BalancerEvents}. */
export type BalancerEventName = keyof BalancerEvents

/** The listener type of event `E`. */
export type BalancerListener<E extends BalancerEventName> = (...args: BalancerEvents[E]) => void

import type { Backend, BackendState } from './backend.js'
import type { Outcome } from './outcome.js'
import type { PoolSnapshot } from './strategy.js'

/** Payload of `backend:state`. */
export interface BackendStateEvent {
  readonly backend: Backend
  readonly from: BackendState
  readonly to: BackendState
  /** Who or what changed it: `'drain'`, `'health:http: status 503'`, `'outlier: 5 consecutive failures'` … */
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
  'balancer:close': []
}

/** Names of {@link BalancerEvents}. */
export type BalancerEventName = keyof BalancerEvents

/** The listener type of event `E`. */
export type BalancerListener<E extends BalancerEventName> = (...args: BalancerEvents[E]) => void

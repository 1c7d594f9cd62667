/**
 * @module @fulcrum/core
 *
 * Backends, pools, the balancer and its contracts. Start with {@link createBalancer}.
 *
 * @example
 * ```ts
 * import { createBalancer } from '@fulcrum/core'
 * const lb = createBalancer().backends(['http://127.0.0.1:9001', 'http://127.0.0.1:9002']).build()
 * const lease = lb.pick()
 * lease.release({ ok: true })
 * ```
 */
export {
  type AdminState,
  Backend,
  type BackendCounters,
  type BackendInit,
  type BackendSnapshot,
  type BackendSpec,
  type BackendState,
  type BackendStatsOptions,
  type HealthStatus,
} from './backend.js'
export { BackendSet } from './backend-set.js'
export { MAX_WEIGHT } from './backend-spec.js'
export { Balancer, type BalancerSnapshot } from './balancer.js'
export { BalancerBuilder, type BalancerOptions, createBalancer } from './builder.js'
export { classifyError } from './classify-error.js'
export { type Clock, systemClock, type TimerHandle } from './clock.js'
export {
  AttemptTimeoutError,
  BalancerClosedError,
  type CoreErrorCode,
  DeadlineExceededError,
  DuplicateBackendError,
  FulcrumError,
  InvalidOptionError,
  isFulcrumError,
  isOverloadError,
  NoBackendError,
  OverloadError,
  UnknownBackendError,
} from './errors.js'
export type {
  BackendStateEvent,
  BackendWeightEvent,
  BalancerEventName,
  BalancerEvents,
  BalancerListener,
  BreakerState,
  BreakerStateEvent,
  HealthCheckEvent,
  PanicEvent,
  PluginEventName,
  RequestEndEvent,
  RequestRejectedEvent,
  RequestRetryEvent,
  RetryDeniedEvent,
} from './events.js'
export type { ExecuteOptions } from './execute.js'
export { Lease, type LeaseSlot } from './lease.js'
export { metricsObserver } from './metrics-observer.js'
export { CANCELLED, type FailureKind, isBackendFailure, OK, type Outcome } from './outcome.js'
export { type P2cOptions, p2c } from './p2c.js'
export type {
  AttemptFn,
  AttemptInfo,
  BalancerControl,
  HealthCheck,
  MetricLabels,
  MetricsSink,
  Observer,
  Plugin,
} from './plugin.js'
export { type BackoffOptions, equalJitterBackoff, fullJitterBackoff } from './primitives/backoff.js'
export { DueHeap, type DueItem } from './primitives/due-heap.js'
export { PeakEwma } from './primitives/peak-ewma.js'
export { RetryBudget, type RetryBudgetOptions } from './primitives/retry-budget.js'
export { RollingWindow } from './primitives/rolling-window.js'
export {
  type ScheduledEntry,
  type ScheduledTask,
  Scheduler,
  sharedScheduler,
} from './primitives/scheduler.js'
export { mathRandom, type Random, randomInt } from './random.js'
export type { RetryOptions, RetryPolicy } from './retry-policy.js'
export { fastRandom, Sfc32Random } from './sfc32.js'
export type { PickContext, PoolSnapshot, Selector, Strategy, StrategyEnv } from './strategy.js'
export { parseTrustList, TrustList, unmapIPv4 } from './trust-list.js'
export {
  checkArray,
  checkFunction,
  checkKeys,
  checkNumber,
  checkObject,
  checkOneOf,
  checkOptions,
  checkString,
  describeValue,
  type NumberLimits,
  optionalFunction,
  optionalNumber,
} from './validate.js'

/**
 * @module @fulcrum/breaker
 *
 * Circuit breaking and admission control for Fulcrum, as balancer plugins:
 * - {@link circuitBreaker}: a closed → open → half-open breaker per backend (Finagle failure
 *   accrual, Linkerd, Hystrix), with jittered exponential backoff and bounded probes.
 * - {@link concurrencyLimit}: limits on leases held per balancer and per backend, with a bounded
 *   FIFO queue and a queue timeout (Envoy circuit-breaker thresholds, HAProxy `maxconn` / `maxqueue`).
 *
 * @example
 * ```ts
 * import { createBalancer } from '@fulcrum/core'
 * import { circuitBreaker, concurrencyLimit } from '@fulcrum/breaker'
 * const lb = createBalancer()
 *   .backends(['http://127.0.0.1:9001', 'http://127.0.0.1:9002'])
 *   .use(circuitBreaker({ consecutiveFailures: 5 }))
 *   .use(concurrencyLimit({ maxRequests: 1_000, maxPending: 100 }))
 *   .build()
 * ```
 */
export type { BreakerBackoffOptions, CircuitBreakerOptions } from './breaker-options.js'
export { type BreakerSnapshot, type CircuitBreaker, circuitBreaker } from './circuit-breaker.js'
export { type ConcurrencyLimit, type ConcurrencyStats, concurrencyLimit } from './concurrency-limit.js'
export {
  type CountedFailureKind,
  DEFAULT_FAILURE_KINDS,
  type FailurePredicate,
  type StatusMatcher,
} from './failure-filter.js'
export type { ConcurrencyLimitOptions } from './limit-options.js'

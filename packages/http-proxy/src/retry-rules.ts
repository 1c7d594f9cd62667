/**
 * When a failed upstream attempt may go to another backend (pingora's and Envoy's rules, RFC 9110
 * §9.2.2): a failure before any byte was sent is always retryable; after that only an idempotent
 * method with a replayable body; never once the response has started; always within the attempt
 * count and the balancer's retry budget, after a jittered backoff or the upstream's `Retry-After`.
 */
import { type Backend, type BackendSet, type Balancer, fullJitterBackoff } from '@fulcrum/core'

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

/** @internal True for the methods RFC 9110 §9.2.2 defines as idempotent. */
export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method)
}

/**
 * @internal True when the request may be sent again: nothing was sent (`connect` failures), or the
 * method is idempotent and the body can be replayed.
 */
export function safeToRetry(failure: string, method: string, replayable: boolean): boolean {
  if (!replayable) return false
  return failure === 'connect' || isIdempotent(method)
}

/**
 * @internal The delay before retry number `retry` (1 for the first), or -1 when the budget denies
 * it. An upstream `Retry-After` (ms) longer than the backoff is honoured up to the policy's cap.
 * `immediate` skips the backoff (a connect failure: the next backend is another host).
 */
export function retryDelay(
  balancer: Balancer<never>,
  backend: Backend,
  retry: number,
  error: unknown,
  retryAfterMs: number | undefined,
  immediate: boolean,
): number {
  const policy = balancer.retryPolicy
  if (policy.budget !== null && !policy.budget.tryWithdraw(balancer.clock.now())) {
    balancer.emit('request:retry-denied', { backend, error })
    return -1
  }
  let delay = immediate ? 0 : fullJitterBackoff(retry, balancer.random, policy.backoff)
  if (retryAfterMs !== undefined && retryAfterMs > delay)
    delay = Math.min(retryAfterMs, policy.retryAfterMaxMs)
  balancer.emit('request:retry', { backend, retry, delayMs: delay, error })
  return delay
}

/** @internal True when an eligible backend is left that is neither `current` nor in `tried`. */
export function hasUntried(
  balancer: Balancer<never>,
  current: Backend | undefined,
  tried: BackendSet | undefined,
): boolean {
  const eligible = balancer.pool.eligible
  for (let i = 0; i < eligible.length; i++) {
    const b = eligible[i]!
    if (b !== current && (tried === undefined || !tried.has(b))) return true
  }
  return false
}

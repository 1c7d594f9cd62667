/**
 * Whether a failed attempt of an exchange is tried again, and where: a retryable status is
 * discarded and retried on an untried backend; a reset with no other backend left is sent once
 * more to the same one at once (the keep-alive race); other safe failures go to an untried backend
 * after the backoff the budget allows (see `retry-rules.ts`); anything else fails the request.
 */
import { BackendSet } from '@fulcrum/core'
import { attempt } from './attempt.js'
import { failWith } from './ending.js'
import type { ProxyError } from './errors.js'
import type { ProxyExchange } from './exchange.js'
import { Stage } from './exchange-context.js'
import { type RawHeaders, rawHeader, retryAfterMs } from './response-head.js'
import { hasUntried, retryDelay, safeToRetry } from './retry-rules.js'

/** The backoff timer's callback: the retry is made unless the client has gone. */
function onRetryTimer(x: ProxyExchange): void {
  x.retryTimer = undefined
  if (!x.clientGone) attempt(x)
}

/** @internal True when `x` may make another attempt after a failure of `kind`. */
export function canRetry(x: ProxyExchange, kind: string): boolean {
  if (x.clientGone || x.attempts > x.core.config.retries) return false
  const body = x.requestBody
  const replayable = body === null || Buffer.isBuffer(body) || !body.consumed
  return safeToRetry(kind, x.req.method ?? 'GET', replayable)
}

/**
 * @internal True when the final response head with `status` is to be discarded and retried: the
 * status is in `retryOnStatus`, a retry is allowed and an untried backend is left. Then it notes
 * the status and the upstream's `Retry-After`; the retry is made when the discarded body completes.
 */
export function retryOnStatus(x: ProxyExchange, status: number, raw: RawHeaders): boolean {
  if (
    !x.core.config.retryOnStatus.has(status) ||
    !canRetry(x, 'status') ||
    !hasUntried(x.core.balancer, x.backend, x.tried)
  )
    return false
  x.discardBody = true
  x.retryAfter = retryAfterMs(rawHeader(raw, 'retry-after'), Date.now())
  x.status = status
  return true
}

/**
 * @internal After a failed attempt of `x` (already released to the balancer) with `error` of
 * `kind`: schedules the retry — the keep-alive race at once on the same backend, else on an
 * untried one after the backoff — or, when none is allowed, fails the request with `error`.
 */
export function retryOrFail(x: ProxyExchange, error: ProxyError, kind: string): void {
  x.lastError = error
  if (
    kind === 'reset' &&
    !x.raceRetried &&
    canRetry(x, kind) &&
    !hasUntried(x.core.balancer, x.backend, x.tried)
  ) {
    // Most often a pooled connection the backend had just closed (the keep-alive race). With no
    // other backend to go to, send the request once more to the same one at once; it does not
    // count as one of the retries. (With one left, the normal retry goes there instead.)
    x.raceRetried = true
    x.retrySame = x.backend
    x.attempts--
    x.stage = Stage.Routing
    x.retryTimer = setTimeout(onRetryTimer, 0, x)
    return
  }
  if (x.discardBody || canRetry(x, kind)) {
    const b = x.backend!
    const delay = retryDelay(x.core.balancer, b, x.attempts, error, x.retryAfter, kind === 'connect')
    if (delay >= 0) {
      ;(x.tried ??= new BackendSet()).add(b)
      x.stage = Stage.Routing
      x.retryTimer = setTimeout(onRetryTimer, delay, x)
      return
    }
  }
  failWith(x, error)
}

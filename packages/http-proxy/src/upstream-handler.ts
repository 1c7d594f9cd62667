/**
 * undici's legacy dispatch-handler callbacks of an exchange (the class's `onConnect`, `onHeaders`,
 * `onComplete` and `onError` call these): they validate the response head, relay informational
 * responses, hand a retryable status to `retry-decision.ts`, book exactly one outcome per attempt
 * with the balancer, and turn an upstream failure into a retry, a cut response or an error answer.
 */
import { CANCELLED } from '@fulcrum/core'
import { failWith } from './ending.js'
import { clientAbortedError, type ProxyPhase, statusError, upstreamError } from './errors.js'
import type { ProxyExchange } from './exchange.js'
import { Stage } from './exchange-context.js'
import { writeInformational } from './local-answers.js'
import { failureOutcome, statusOutcome } from './outcomes.js'
import { type RawHeaders, responseHeaders } from './response-head.js'
import { relayEnd, relayHead } from './response-relay.js'
import { retryOnStatus, retryOrFail } from './retry-decision.js'

/** @internal undici: the attempt of `x` is queued; `abort` cancels it (at once if the client has gone). */
export function onUpstreamConnect(x: ProxyExchange, abort: (err?: Error) => void): void {
  x.upstreamAbort = abort
  if (x.clientGone) abort(clientAbortedError('connect', x.backend?.id))
}

/**
 * @internal undici: a response head for `x`. A 1xx is relayed as is; a status outside 100–599
 * aborts the attempt; a retryable status is discarded; any other is written to the client.
 */
export function onUpstreamHeaders(
  x: ProxyExchange,
  status: number,
  raw: RawHeaders,
  resume: () => void,
  statusText: string,
): boolean {
  if (x.clientGone) return false
  if (status < 200 && status >= 100) {
    writeInformational(x.req, x.res, status, statusText, responseHeaders(raw))
    return true
  }
  x.stage = Stage.Headers
  if (status > 599 || status < 100) {
    // RFC 9110 §15: a status is 100–599; anything else is a broken upstream, and its connection goes.
    x.upstreamAbort?.(
      Object.assign(new Error(`Invalid status ${status}`), { code: 'FULCRUM_ERR_BAD_RESPONSE' }),
    )
    return false
  }
  if (retryOnStatus(x, status, raw)) return true
  return relayHead(x, status, raw, resume, statusText)
}

/**
 * @internal undici: the response for `x` ended. A discarded status is booked as a failure and
 * retried (or answered); otherwise the attempt is booked by its status and the response ended.
 */
export function onUpstreamComplete(x: ProxyExchange, trailers: RawHeaders | null): void {
  const balancer = x.core.balancer
  if (x.discardBody) {
    const error = statusError(x.status, x.backend?.id, x.retryAfter)
    balancer.release(x, statusOutcome(x.status, false))
    retryOrFail(x, error, 'status')
    return
  }
  x.stage = Stage.Done
  balancer.release(x, statusOutcome(x.status, x.status < 500))
  relayEnd(x, trailers)
}

/**
 * @internal undici: the attempt of `x` failed with `err`. It is booked (`cancelled` when the client
 * has gone, else by the failure's kind); a response already started is cut so the client sees
 * truncation; otherwise the failure is retried or answered. An abort by the proxy itself
 * (`abortError`: a hook threw, the deadline passed) is booked and answered as that error.
 */
export function onUpstreamError(x: ProxyExchange, err: Error): void {
  if (x.stage === Stage.Done && !x.held) return
  const balancer = x.core.balancer
  if (x.clientGone) {
    balancer.release(x, CANCELLED)
    return
  }
  const phase: ProxyPhase =
    x.stage >= Stage.Body
      ? 'response-body'
      : x.requestSent || x.stage === Stage.Headers
        ? 'response-headers'
        : 'request-body'
  const override = x.abortError
  if (override !== undefined) {
    // Aborted by the proxy itself (a hook threw, the deadline passed): book and answer that.
    balancer.release(x, failureOutcome(override.failureKind))
    if (x.stage === Stage.Body) {
      x.error = override
      x.stage = Stage.Done
      x.res.destroy()
    } else failWith(x, override)
    return
  }
  const error = upstreamError(err, phase, x.backend?.id)
  balancer.release(x, failureOutcome(error.failureKind))
  if (x.stage === Stage.Body) {
    // The client has the status already: cut its response so it sees truncation, not a clean end.
    x.error = error
    x.stage = Stage.Done
    x.res.destroy()
    return
  }
  retryOrFail(x, error, error.failureKind)
}

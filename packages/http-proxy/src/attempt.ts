/**
 * The upstream attempts of one proxied request: starting it (the phases of `prepare.ts`, the
 * overall deadline, the request body buffered for replay or streamed), picking a backend (the
 * sticky cookie's first, the same one again after a keep-alive race) and dispatching the attempt
 * to undici with the exchange itself as the handler.
 */
import { type BackendSet, CANCELLED } from '@fulcrum/core'
import type { Dispatcher } from 'undici'
import { failWith, onDeadline } from './ending.js'
import { bodyConsumedError, clientAbortedError, type ProxyError, pickError } from './errors.js'
import type { ProxyExchange } from './exchange.js'
import { Stage } from './exchange-context.js'
import { prepareRequest } from './prepare.js'
import { waitInQueue } from './queued-pick.js'
import { bufferBody, RequestBody } from './request-body.js'
import { setHost } from './request-head.js'

/**
 * @internal Runs `x` through its phases: those before a pick, then (arming the overall deadline)
 * the request body — none, buffered for replay up to `maxReplayBodyBytes`, else streamed — and the
 * first attempt.
 */
export function startExchange(x: ProxyExchange): void {
  if (!prepareRequest(x)) return
  const deadlineMs = x.core.balancer.retryPolicy.timeoutMs
  if (deadlineMs !== Number.POSITIVE_INFINITY) x.deadlineTimer = setTimeout(onDeadline, deadlineMs, x)
  const req = x.req
  const core = x.core
  if (x.contentLength <= 0 && !x.chunked) {
    attempt(x)
    return
  }
  if (req.readableEnded || req.readableDidRead) {
    // Something read the body before the proxy (a body parser): there is nothing left to forward.
    failWith(x, bodyConsumedError())
    return
  }
  if (!x.chunked && x.contentLength <= core.config.maxReplayBodyBytes) {
    bufferBody(req, x.contentLength, (err, body) => {
      if (x.clientGone) return
      if (err !== null) {
        failWith(x, clientAbortedError('request', undefined))
        return
      }
      x.requestBody = body!
      attempt(x)
    })
    return
  }
  x.requestBody = new RequestBody(req)
  attempt(x)
}

/**
 * @internal Acquires a backend into `x`: the sticky cookie's backend on the first attempt, else the
 * strategy's pick among backends not in `tried`. Returns the error when none is eligible or
 * admission control refused (after a failed attempt: that attempt's error).
 */
export function pickBackend(x: ProxyExchange, tried: BackendSet | undefined): ProxyError | undefined {
  const core = x.core
  const balancer = core.balancer
  const ctx = (x.pickContext ??= core.config.context ? core.config.context(x as never) : x) as never
  try {
    const sticky = core.config.sticky
    let pinned = false
    if (sticky !== undefined && x.attempts === 0 && x.cookie !== undefined) {
      const value = sticky.read(x.cookie)
      const b = value === undefined ? undefined : sticky.backendFor(value)
      pinned = b !== undefined && balancer.acquireBackend(b, ctx, x)
    }
    if (!pinned) balancer.acquire(ctx, x, tried)
    x.pinned = pinned
    return undefined
  } catch (err) {
    return x.lastError ?? pickError(err)
  }
}

/**
 * @internal Makes the next attempt of `x`: on the same backend again after a keep-alive race (if it
 * is still acquirable), else on a fresh pick; a refused first pick waits in the admission queue when
 * the balancer queues (see `queued-pick.ts`), any other refusal ends the request.
 */
export function attempt(x: ProxyExchange): void {
  const balancer = x.core.balancer
  const same = x.retrySame
  x.retrySame = undefined
  if (same === undefined || !balancer.acquireBackend(same, x.pickContext as never, x)) {
    const failed = pickBackend(x, x.tried)
    if (failed !== undefined) {
      // Only a first pick queues (a retry answers its attempt's error): see queued-pick.ts.
      if (failed.code === 'FULCRUM_ERR_OVERLOAD' && balancer.queues) waitInQueue(x)
      else failWith(x, failed)
      return
    }
  }
  sendAttempt(x)
}

/**
 * @internal Sends the attempt of `x` on the backend held in its slot: deposits in the retry budget
 * on the first attempt, resets the per-attempt state, sets `Host`, replaces a streamed body that an
 * earlier attempt started, and dispatches with `x` as undici's handler.
 */
export function sendAttempt(x: ProxyExchange): void {
  const core = x.core
  const balancer = core.balancer
  const config = core.config
  const backend = x.backend!
  if (++x.attempts === 1 && !x.raceRetried && config.retries > 0)
    balancer.retryPolicy.budget?.deposit(x.startedAt)
  x.stage = Stage.Sending
  x.requestSent = false
  x.discardBody = false
  x.retryAfter = undefined
  if (!config.preserveHost || x.host === undefined) setHost(x.upstreamHeaders, backend.address)
  let body = x.requestBody
  if (body instanceof RequestBody && x.attempts > 1) {
    body.destroy()
    body = x.requestBody = new RequestBody(x.req)
  }
  const opts: Dispatcher.DispatchOptions = {
    path: x.path,
    method: x.req.method as Dispatcher.HttpMethod,
    headers: x.upstreamHeaders,
    body,
    headersTimeout: config.attemptTimeoutMs,
  }
  let upstream: Dispatcher
  try {
    upstream = core.upstreams.get(backend)
  } catch (err) {
    balancer.release(x, CANCELLED)
    failWith(x, err as ProxyError)
    return
  }
  upstream.dispatch(opts, x as unknown as Dispatcher.DispatchHandler)
}

/**
 * One proxied request: the balancer's lease slot, undici's dispatch handler and the hooks' context
 * in a single object, so that the per-request path allocates no lease, closure or promise. It
 * validates the request, builds the upstream head, picks a backend (a sticky cookie first), relays
 * the response with backpressure, retries safe failures on untried backends, and reports exactly one
 * outcome per attempt to the balancer.
 *
 * The class holds the state and the entry points others call (the proxy, undici, the upgrade relay,
 * the admission queue); the logic lives in plain functions taking the exchange: `prepare.ts` (the
 * phases before a pick), `attempt.ts` (start, pick, send), `upstream-handler.ts` (undici's
 * callbacks), `response-relay.ts` (writing the response), `retry-decision.ts` (retry or fail),
 * `ending.ts` (failure, the deadline, the client going away, `onLog`) and `queued-pick.ts`.
 */
import type { Backend, BackendSet } from '@fulcrum/core'
import { pickBackend, sendAttempt, startExchange } from './attempt.js'
import { detachResponse, failWith, followResponse, upgradeEnded } from './ending.js'
import type { ProxyError } from './errors.js'
import { ExchangeContext } from './exchange-context.js'
import { prepareRequest } from './prepare.js'
import type { RequestBody } from './request-body.js'
import type { RawHeaders } from './response-head.js'
import { relayData } from './response-relay.js'
import {
  onUpstreamComplete,
  onUpstreamConnect,
  onUpstreamError,
  onUpstreamHeaders,
} from './upstream-handler.js'

export type { ProxyCore } from './exchange-context.js'

/**
 * The context of one proxied request, passed to every hook (see {@link ExchangeContext} for its
 * fields): one object is the request's lease slot, undici's dispatch handler and the hooks' `ctx`.
 *
 * @example
 * ```ts
 * createHttpProxy(lb, { onLog: (ctx) => log.info({ status: ctx.status, backend: ctx.backend?.id }) })
 * ```
 */
export class ProxyExchange extends ExchangeContext {
  /** @internal undici's `abort` for the attempt in flight (from `onConnect`). */
  upstreamAbort: ((err?: Error) => void) | null = null
  /** @internal undici's `resume` for a paused response body (from `onHeaders`). */
  upstreamResume: (() => void) | null = null
  /** @internal The request body: buffered for replay, streamed, or `null` when there is none. */
  requestBody: Buffer | RequestBody | null = null
  /** @internal Backends already tried (and failed), created on the first retry. */
  tried: BackendSet | undefined = undefined
  /** @internal undici wrote the current attempt's request head and body. */
  requestSent = false
  /** @internal The client went away before the response finished. */
  clientGone = false
  /** @internal The response's `drain` listener is installed. */
  drainHooked = false
  /** @internal The current attempt's response is discarded (its status is retried). */
  discardBody = false
  /** @internal The discarded response's `Retry-After`, in ms. */
  retryAfter: number | undefined = undefined
  /** @internal The proxy's own reason for aborting the attempt (a hook threw, the deadline passed). */
  abortError: ProxyError | undefined = undefined
  /** @internal The keep-alive race was retried already (once per request). */
  raceRetried = false
  /** @internal The overall deadline's timer. */
  deadlineTimer: ReturnType<typeof setTimeout> | undefined = undefined
  /** @internal The backend the next attempt goes to again (the keep-alive race). */
  retrySame: Backend | undefined = undefined
  /** @internal The last failed attempt's error: what a refused retry pick answers. */
  lastError: ProxyError | undefined = undefined
  /** @internal The backoff timer before a retry. */
  retryTimer: ReturnType<typeof setTimeout> | undefined = undefined
  /** @internal The first pick's wait in the admission queue; aborted when the client goes or the deadline passes. */
  queued: AbortController | undefined = undefined

  /** @internal Follows the response: its `close` ends the exchange (and calls `onLog`). */
  follow(): void {
    followResponse(this)
  }

  /** @internal Runs the request through its phases. */
  start(): void {
    startExchange(this)
  }

  /** @internal The phases before a backend is chosen; false when the request was answered there. */
  prepare(): boolean {
    return prepareRequest(this)
  }

  /**
   * @internal Acquires a backend into this slot: the sticky cookie's backend on the first attempt,
   * else the strategy's pick among backends not in `tried`. Returns the error when none is eligible
   * or admission control refused (after a failed attempt: that attempt's error).
   */
  pick(tried: BackendSet | undefined): ProxyError | undefined {
    return pickBackend(this, tried)
  }

  /**
   * @internal Hands the connection over to an upgrade relay: the response object lets go of the
   * socket and this exchange stops following it. The relay reports the end with {@link endUpgrade}.
   */
  detachForUpgrade(): void {
    detachResponse(this)
  }

  /** @internal An upgrade relay ended (tunnel closed, or refused with `error`): logs it once. */
  endUpgrade(status: number, error: ProxyError | undefined): void {
    upgradeEnded(this, status, error)
  }

  /** @internal Counts an upstream attempt made by an upgrade relay. */
  countAttempt(): number {
    return ++this.attempts
  }

  /** @internal Sends the attempt on the backend held in this slot. */
  send(): void {
    sendAttempt(this)
  }

  /** @internal Ends the request with `error` (the default answer, unless `onError` writes one). */
  fail(error: ProxyError): void {
    failWith(this, error)
  }

  /** @internal undici: the request is queued; `abort` cancels it. */
  onConnect(abort: (err?: Error) => void): void {
    onUpstreamConnect(this, abort)
  }

  /** @internal undici: the request head and body were written. */
  onRequestSent(): void {
    this.requestSent = true
  }

  /** @internal undici: a response head (1xx or final). */
  onHeaders(status: number, raw: RawHeaders, resume: () => void, statusText: string): boolean {
    return onUpstreamHeaders(this, status, raw, resume, statusText)
  }

  /** @internal undici: a chunk of the response body. */
  onData(chunk: Buffer): boolean {
    return relayData(this, chunk)
  }

  /** @internal undici: the response ended. */
  onComplete(trailers: RawHeaders | null): void {
    onUpstreamComplete(this, trailers)
  }

  /** @internal undici: the attempt failed. */
  onError(err: Error): void {
    onUpstreamError(this, err)
  }
}

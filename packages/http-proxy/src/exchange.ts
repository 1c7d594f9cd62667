/**
 * One proxied request: the balancer's lease slot, undici's dispatch handler and the hooks' context
 * in a single object, so that the per-request path allocates no lease, closure or promise. It
 * validates the request, builds the upstream head, picks a backend (a sticky cookie first), relays
 * the response with backpressure, retries safe failures on untried backends, and reports exactly one
 * outcome per attempt to the balancer.
 */
import type { ServerResponse } from 'node:http'
import { type Backend, BackendSet, CANCELLED } from '@fulcrum/core'
import type { Dispatcher } from 'undici'
import {
  bodyConsumedError,
  clientAbortedError,
  deadlineError,
  hookError,
  type ProxyError,
  type ProxyPhase,
  pickError,
  statusError,
  upstreamError,
} from './errors.js'
import { ExchangeContext, Stage } from './exchange-context.js'
import { writeError, writeInformational } from './local-answers.js'
import { failureOutcome, statusOutcome } from './outcomes.js'
import { prepareRequest } from './prepare.js'
import { waitInQueue } from './queued-pick.js'
import { bufferBody, RequestBody } from './request-body.js'
import { setHost } from './request-head.js'
import { type RawHeaders, rawHeader, responseHeaders, retryAfterMs, trailerPairs } from './response-head.js'
import { hasUntried, retryDelay, safeToRetry } from './retry-rules.js'

export type { ProxyCore } from './exchange-context.js'

const kExchange = Symbol('fulcrum.exchange')
type Tagged = ServerResponse & { [kExchange]?: ProxyExchange | undefined }

function onResClose(this: Tagged): void {
  this[kExchange]?.clientClosed()
}
function onResDrain(this: Tagged): void {
  this[kExchange]?.resumeUpstream()
}
function onDeadline(x: ProxyExchange): void {
  x.deadlinePassed()
}
function onRetryTimer(x: ProxyExchange): void {
  x.retryNow()
}

/** Calls `onLog`; a logger that throws must not take the process down, so its error is dropped. */
function callOnLog(x: ProxyExchange): void {
  const onLog = x.core.config.hooks.onLog
  if (onLog === undefined) return
  try {
    onLog(x)
  } catch {
    // Logging failed; the request itself is over either way.
  }
}

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
  #abort: ((err?: Error) => void) | null = null
  #resume: (() => void) | null = null
  #body: Buffer | RequestBody | null = null
  #tried: BackendSet | undefined = undefined
  #sent = false
  #gone = false
  #drainHooked = false
  #discard = false
  #retryAfter: number | undefined = undefined
  #override: ProxyError | undefined = undefined
  #raced = false
  #deadline: ReturnType<typeof setTimeout> | undefined = undefined
  #same: Backend | undefined = undefined
  #lastError: ProxyError | undefined = undefined
  #timer: ReturnType<typeof setTimeout> | undefined = undefined
  /** @internal The first pick's wait in the admission queue; aborted when the client goes or the deadline passes. */
  queued: AbortController | undefined = undefined

  /** @internal Follows the response: its `close` ends the exchange (and calls `onLog`). */
  follow(): void {
    ;(this.res as Tagged)[kExchange] = this
    this.res.on('close', onResClose)
  }

  /** @internal Runs the request through its phases. */
  start(): void {
    if (!prepareRequest(this)) return
    const deadlineMs = this.core.balancer.retryPolicy.timeoutMs
    if (deadlineMs !== Number.POSITIVE_INFINITY) this.#deadline = setTimeout(onDeadline, deadlineMs, this)
    const req = this.req
    const core = this.core
    if (this.contentLength <= 0 && !this.chunked) {
      this.#attempt()
      return
    }
    if (req.readableEnded || req.readableDidRead) {
      // Something read the body before the proxy (a body parser): there is nothing left to forward.
      this.fail(bodyConsumedError())
      return
    }
    if (!this.chunked && this.contentLength <= core.config.maxReplayBodyBytes) {
      bufferBody(req, this.contentLength, (err, body) => {
        if (this.#gone) return
        if (err !== null) {
          this.fail(clientAbortedError('request', undefined))
          return
        }
        this.#body = body!
        this.#attempt()
      })
      return
    }
    this.#body = new RequestBody(req)
    this.#attempt()
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
    const core = this.core
    const balancer = core.balancer
    const ctx = (this.pickContext ??= core.config.context
      ? core.config.context(this as never)
      : this) as never
    try {
      const sticky = core.config.sticky
      let pinned = false
      if (sticky !== undefined && this.attempts === 0 && this.cookie !== undefined) {
        const value = sticky.read(this.cookie)
        const b = value === undefined ? undefined : sticky.backendFor(value)
        pinned = b !== undefined && balancer.acquireBackend(b, ctx, this)
      }
      if (!pinned) balancer.acquire(ctx, this, tried)
      this.pinned = pinned
      return undefined
    } catch (err) {
      return this.#lastError ?? pickError(err)
    }
  }

  /**
   * @internal Hands the connection over to an upgrade relay: the response object lets go of the
   * socket and this exchange stops following it. The relay reports the end with {@link endUpgrade}.
   */
  detachForUpgrade(): void {
    const res = this.res
    res.off('close', onResClose)
    ;(res as Tagged)[kExchange] = undefined
    if (res.socket !== null) res.detachSocket(res.socket)
  }

  /** @internal An upgrade relay ended (tunnel closed, or refused with `error`): logs it once. */
  endUpgrade(status: number, error: ProxyError | undefined): void {
    if (this.stage === Stage.Done) return
    this.stage = Stage.Done
    this.status = status
    if (error !== undefined) this.error = error
    callOnLog(this)
  }

  /** @internal Counts an upstream attempt made by an upgrade relay. */
  countAttempt(): number {
    return ++this.attempts
  }

  #attempt(): void {
    const balancer = this.core.balancer
    const same = this.#same
    this.#same = undefined
    if (same === undefined || !balancer.acquireBackend(same, this.pickContext as never, this)) {
      const failed = this.pick(this.#tried)
      if (failed !== undefined) {
        // Only a first pick queues (a retry answers its attempt's error): see queued-pick.ts.
        if (failed.code === 'FULCRUM_ERR_OVERLOAD' && balancer.queues) waitInQueue(this)
        else this.fail(failed)
        return
      }
    }
    this.send()
  }

  /** @internal Sends the attempt on the backend held in this slot. */
  send(): void {
    const core = this.core
    const balancer = core.balancer
    const config = core.config
    const backend = this.backend!
    if (++this.attempts === 1 && !this.#raced && config.retries > 0)
      balancer.retryPolicy.budget?.deposit(this.startedAt)
    this.stage = Stage.Sending
    this.#sent = false
    this.#discard = false
    this.#retryAfter = undefined
    if (!config.preserveHost || this.host === undefined) setHost(this.upstreamHeaders, backend.address)
    let body = this.#body
    if (body instanceof RequestBody && this.attempts > 1) {
      body.destroy()
      body = this.#body = new RequestBody(this.req)
    }
    const opts: Dispatcher.DispatchOptions = {
      path: this.path,
      method: this.req.method as Dispatcher.HttpMethod,
      headers: this.upstreamHeaders,
      body,
      headersTimeout: config.attemptTimeoutMs,
    }
    let upstream: Dispatcher
    try {
      upstream = core.upstreams.get(backend)
    } catch (err) {
      balancer.release(this, CANCELLED)
      this.fail(err as ProxyError)
      return
    }
    upstream.dispatch(opts, this as unknown as Dispatcher.DispatchHandler)
  }

  /** @internal undici: the request is queued; `abort` cancels it. */
  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort
    if (this.#gone) abort(clientAbortedError('connect', this.backend?.id))
  }

  /** @internal undici: the request head and body were written. */
  onRequestSent(): void {
    this.#sent = true
  }

  /** @internal undici: a response head (1xx or final). */
  onHeaders(status: number, raw: RawHeaders, resume: () => void, statusText: string): boolean {
    if (this.#gone) return false
    if (status < 200 && status >= 100) {
      writeInformational(this.req, this.res, status, statusText, responseHeaders(raw))
      return true
    }
    this.stage = Stage.Headers
    if (status > 599 || status < 100) {
      // RFC 9110 §15: a status is 100–599; anything else is a broken upstream, and its connection goes.
      this.#abort?.(
        Object.assign(new Error(`Invalid status ${status}`), { code: 'FULCRUM_ERR_BAD_RESPONSE' }),
      )
      return false
    }
    const config = this.core.config
    if (
      config.retryOnStatus.has(status) &&
      this.#canRetry('status') &&
      hasUntried(this.core.balancer, this.backend, this.#tried)
    ) {
      this.#discard = true
      this.#retryAfter = retryAfterMs(rawHeader(raw, 'retry-after'), Date.now())
      this.status = status
      return true
    }
    const headers = responseHeaders(raw)
    if (config.sticky !== undefined && !this.pinned)
      headers.push('set-cookie', config.sticky.setCookie(this.backend!))
    if (config.hooks.onUpstreamResponse !== undefined) {
      try {
        config.hooks.onUpstreamResponse(this, status, headers)
      } catch (err) {
        // The hook's fault, not the backend's: the backend is booked as cancelled, the client gets 500.
        this.#override = hookError('onUpstreamResponse', err)
        this.#abort?.(this.#override)
        return false
      }
    }
    this.status = status
    this.#resume = resume
    try {
      if (statusText.length > 0) this.res.writeHead(status, statusText, headers)
      else this.res.writeHead(status, headers)
    } catch (err) {
      this.#abort?.(err as Error)
      return false
    }
    this.stage = Stage.Body
    return true
  }

  /** @internal undici: a chunk of the response body. */
  onData(chunk: Buffer): boolean {
    if (this.#discard) return true
    if (this.res.write(chunk)) return true
    if (!this.#drainHooked) {
      this.#drainHooked = true
      this.res.on('drain', onResDrain)
    }
    return false
  }

  /** @internal undici: the response ended. */
  onComplete(trailers: RawHeaders | null): void {
    if (this.#discard) {
      const error = statusError(this.status, this.backend?.id, this.#retryAfter)
      this.core.balancer.release(this, statusOutcome(this.status, false))
      this.#retryOrFail(error, 'status')
      return
    }
    this.stage = Stage.Done
    this.core.balancer.release(this, statusOutcome(this.status, this.status < 500))
    if (trailers !== null && trailers.length > 0) this.res.addTrailers(trailerPairs(trailers))
    this.res.end()
  }

  /** @internal undici: the attempt failed. */
  onError(err: Error): void {
    if (this.stage === Stage.Done && !this.held) return
    if (this.#gone) {
      this.core.balancer.release(this, CANCELLED)
      return
    }
    const phase: ProxyPhase =
      this.stage >= Stage.Body
        ? 'response-body'
        : this.#sent || this.stage === Stage.Headers
          ? 'response-headers'
          : 'request-body'
    const override = this.#override
    if (override !== undefined) {
      // Aborted by the proxy itself (a hook threw, the deadline passed): book and answer that.
      this.core.balancer.release(this, failureOutcome(override.failureKind))
      if (this.stage === Stage.Body) {
        this.error = override
        this.stage = Stage.Done
        this.res.destroy()
      } else this.fail(override)
      return
    }
    const error = upstreamError(err, phase, this.backend?.id)
    this.core.balancer.release(this, failureOutcome(error.failureKind))
    if (this.stage === Stage.Body) {
      // The client has the status already: cut its response so it sees truncation, not a clean end.
      this.error = error
      this.stage = Stage.Done
      this.res.destroy()
      return
    }
    this.#retryOrFail(error, error.failureKind)
  }

  #canRetry(kind: string): boolean {
    if (this.#gone || this.attempts > this.core.config.retries) return false
    const body = this.#body
    const replayable = body === null || Buffer.isBuffer(body) || !body.consumed
    return safeToRetry(kind, this.req.method ?? 'GET', replayable)
  }

  #retryOrFail(error: ProxyError, kind: string): void {
    this.#lastError = error
    if (
      kind === 'reset' &&
      !this.#raced &&
      this.#canRetry(kind) &&
      !hasUntried(this.core.balancer, this.backend, this.#tried)
    ) {
      // Most often a pooled connection the backend had just closed (the keep-alive race). With no
      // other backend to go to, send the request once more to the same one at once; it does not
      // count as one of the retries. (With one left, the normal retry goes there instead.)
      this.#raced = true
      this.#same = this.backend
      this.attempts--
      this.stage = Stage.Routing
      this.#timer = setTimeout(onRetryTimer, 0, this)
      return
    }
    if (this.#discard || this.#canRetry(kind)) {
      const b = this.backend!
      const delay = retryDelay(
        this.core.balancer,
        b,
        this.attempts,
        error,
        this.#retryAfter,
        kind === 'connect',
      )
      if (delay >= 0) {
        ;(this.#tried ??= new BackendSet()).add(b)
        this.stage = Stage.Routing
        this.#timer = setTimeout(onRetryTimer, delay, this)
        return
      }
    }
    this.fail(error)
  }

  /** @internal The balancer's overall deadline (`.retry({ timeoutMs })`) passed. */
  deadlinePassed(): void {
    this.#deadline = undefined
    if (this.stage === Stage.Done || this.#gone) return
    const phase: ProxyPhase = this.stage >= Stage.Body ? 'response-body' : 'response-headers'
    const error = deadlineError(phase, this.backend?.id)
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    const queued = this.queued
    queued?.abort(error)
    if (this.held && queued === undefined) {
      this.#override = error
      this.#abort?.(error)
    } else this.fail(error)
  }

  /** @internal The backoff before a retry ended. */
  retryNow(): void {
    this.#timer = undefined
    if (!this.#gone) this.#attempt()
  }

  /** @internal The client can take more body. */
  resumeUpstream(): void {
    this.#resume?.()
  }

  /** @internal Ends the request with `error` (the default answer, unless `onError` writes one). */
  fail(error: ProxyError): void {
    this.stage = Stage.Done
    this.error = error
    const res = this.res
    if (res.headersSent) {
      res.destroy()
      return
    }
    this.status = error.status
    const onError = this.core.config.hooks.onError
    if (onError !== undefined) {
      try {
        if (onError(this, error) === true) return
      } catch {
        // A throwing onError falls back to the default answer.
      }
      if (res.headersSent) {
        res.destroy()
        return
      }
    }
    writeError(res, error)
  }

  /** @internal The response closed: finished, or the client went away first. */
  clientClosed(): void {
    const res = this.res
    ;(res as Tagged)[kExchange] = undefined
    if (!res.writableFinished && !this.#gone) {
      this.#gone = true
      if (this.stage !== Stage.Done || this.error === undefined)
        this.error ??= clientAbortedError(
          this.stage >= Stage.Body ? 'response-body' : 'response-headers',
          this.backend?.id,
        )
      if (this.#timer !== undefined) clearTimeout(this.#timer)
      this.queued?.abort(this.error)
      if (this.held) {
        this.core.balancer.release(this, CANCELLED)
        this.#abort?.(this.error)
      }
      if (this.#body instanceof RequestBody) this.#body.destroy()
    }
    // A hook may have answered (onRequest, onError): report the status it sent.
    if (this.#deadline !== undefined) clearTimeout(this.#deadline)
    if (res.headersSent) this.status = res.statusCode
    callOnLog(this)
  }
}

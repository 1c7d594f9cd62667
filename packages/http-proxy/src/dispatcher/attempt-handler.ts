/**
 * One request through a balanced dispatcher, as the legacy undici handler the backends' pools call
 * (undici 7's `Client` speaks that API natively, so no adapter is allocated). It picks a backend,
 * relays the response, retries safe failures and retryable statuses on backends not yet tried, and
 * releases every attempt exactly once. Besides this object, a request allocates only the `abort`
 * function the legacy handler API hands to the caller — and, when a queueing admission plugin
 * refuses its first pick, what the wait in the queue takes (`acquireAsync`, an `AbortController`).
 */
import type { Duplex } from 'node:stream'
import { BackendSet, CANCELLED, isOverloadError } from '@fulcrum/core'
import { type Dispatcher, errors } from 'undici'
import { deadlineError, statusError, upstreamError } from '../errors.js'
import { failureOutcome, statusOutcome } from '../outcomes.js'
import { rawHeader, retryAfterMs } from '../response-head.js'
import { retryDelay } from '../retry-rules.js'
import { KeptAnswer } from './kept-answer.js'
import { noop, RequestState, Stage } from './request-state.js'
import { failurePhase, isCallerError, mayRetry } from './retry-decision.js'
import type { RawList } from './user-handler.js'

function onRetryTimer(a: AttemptHandler): void {
  a.retryNow()
}
function onDeadline(a: AttemptHandler): void {
  a.deadlinePassed()
}
function onGranted(this: AttemptHandler): void {
  this.dequeued(undefined)
}
function onRefused(this: AttemptHandler, err: unknown): void {
  this.dequeued(err ?? new errors.RequestAbortedError())
}

/** @internal The per-request handler of a balanced dispatcher. */
export class AttemptHandler extends RequestState {
  #ctx: unknown = undefined
  #tried: BackendSet | undefined = undefined
  #abortUpstream: ((err?: Error) => void) | null = null
  #timer: ReturnType<typeof setTimeout> | undefined = undefined
  #lastError: unknown = undefined
  #status = 0
  #delay = 0
  #kept: KeptAnswer | undefined = undefined
  #deadline: ReturnType<typeof setTimeout> | undefined = undefined
  #queued: AbortController | undefined = undefined

  /** The backends this request already tried (for the retry decision). */
  get tried(): BackendSet | undefined {
    return this.#tried
  }

  /** Starts the request: tells the caller, then makes the first attempt. */
  start(): void {
    const core = this.core
    const policy = core.balancer.retryPolicy
    if (policy.budget !== null && core.config.retries > 0) policy.budget.deposit(core.balancer.clock.now())
    if (policy.timeoutMs !== Number.POSITIVE_INFINITY)
      this.#deadline = setTimeout(onDeadline, policy.timeoutMs, this)
    try {
      this.tellStart(this.legacy ? (err) => this.abort(err) : noop)
    } catch (err) {
      this.fail(err)
      return
    }
    if (this.stage !== Stage.DONE) this.#attempt()
  }

  #attempt(): void {
    const core = this.core
    try {
      const c = core.config.context
      this.#ctx ??= c === undefined ? this : c(this.options)
      core.balancer.acquire(this.#ctx as never, this, this.#tried)
    } catch (err) {
      // A refused first pick waits in the admission queue when a plugin queues; a retry gives up.
      if (isOverloadError(err) && this.attempts === 0 && core.balancer.queues) this.#queue()
      else this.#giveUp(err)
      return
    }
    this.#dispatch()
  }

  /** The slow path: waits for capacity; `dispatch()` has returned long before the pick completes. */
  #queue(): void {
    const ac = new AbortController()
    this.#queued = ac
    this.core.balancer
      .acquireAsync(this.#ctx as never, this, undefined, ac.signal)
      .then(onGranted.bind(this), onRefused.bind(this))
  }

  /** @internal The admission queue answered: `err` undefined when a backend was acquired. */
  dequeued(err: unknown): void {
    const aborted = this.#queued?.signal.aborted === true
    this.#queued = undefined
    const done = aborted || this.stage === Stage.DONE
    if (done || (err === undefined && this.core.destroyed)) {
      // Acquired just as it was aborted, or the dispatcher was destroyed meanwhile.
      if (this.held) this.core.balancer.release(this, CANCELLED)
      if (!done) this.#giveUp(new errors.ClientDestroyedError())
    } else if (err !== undefined) this.#giveUp(err)
    else this.#dispatch()
  }

  /** Sends the attempt to the backend held in this slot. */
  #dispatch(): void {
    const core = this.core
    let upstream: Dispatcher
    try {
      upstream = core.upstreams.get(this.backend!)
    } catch (err) {
      core.balancer.release(this, failureOutcome('error'))
      this.#giveUp(err)
      return
    }
    this.attempts++
    this.stage = Stage.PENDING
    try {
      upstream.dispatch(this.options, this)
    } catch (err) {
      this.onError(err as Error)
    }
  }

  /** @internal The balancer's overall deadline (`.retry({ timeoutMs })`) passed: the request fails with a 504 error. */
  deadlinePassed(): void {
    this.#deadline = undefined
    if (this.stage !== Stage.DONE) this.abort(deadlineError('response-headers', this.backend?.id))
  }

  protected override end(): void {
    if (this.#deadline !== undefined) clearTimeout(this.#deadline)
    this.#deadline = undefined
    super.end()
  }

  abort(reason?: Error): void {
    if (this.stage === Stage.DONE) return
    const err = reason ?? new errors.RequestAbortedError()
    this.markAborted(err)
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#queued?.abort(err)
    if (this.held) this.core.balancer.release(this, CANCELLED)
    const upstream = this.#abortUpstream
    this.#abortUpstream = null
    this.end()
    upstream?.(err) // the pool's onError that follows finds the request done
    this.tellError(err)
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.stage === Stage.DONE) abort(this.reason ?? new errors.RequestAbortedError())
    else {
      this.#abortUpstream = abort
      this.stage = Stage.CONNECTED
    }
  }

  onBodySent(chunk: unknown): void {
    if (this.legacy) (this.handler as { onBodySent?: (chunk: unknown) => void }).onBodySent?.(chunk)
  }

  onRequestSent(): void {
    if (this.stage === Stage.CONNECTED) this.stage = Stage.SENT
    if (this.legacy) (this.handler as { onRequestSent?: () => void }).onRequestSent?.()
  }

  onResponseStarted(): void {
    if (this.legacy && this.stage !== Stage.DONE) this.handler.onResponseStarted?.()
  }

  onHeaders(status: number, raw: RawList, resume: () => void, statusText: string): boolean {
    if (this.stage === Stage.DONE) return false
    const core = this.core
    if (
      this.stage < Stage.DISCARDING &&
      status >= 200 &&
      core.config.retryOnStatus.has(status) &&
      mayRetry(core, this, 'status')
    ) {
      const after = retryAfterMs(rawHeader(raw, 'retry-after'), Date.now())
      const error = statusError(status, this.backend!.id, after)
      const delay = retryDelay(core.balancer, this.backend!, this.attempts, error, after, false)
      if (delay >= 0) {
        this.stage = Stage.DISCARDING
        this.#status = status
        this.#delay = delay
        this.#lastError = error
        this.#kept = new KeptAnswer(status, statusText, raw)
        return true
      }
    }
    this.stage = Stage.DELIVERING
    this.#status = status
    this.resumeUpstream = resume
    return this.tellHeaders(status, raw, resume, statusText)
  }

  onData(chunk: Buffer): boolean {
    if (this.stage === Stage.DELIVERING) return this.tellData(chunk)
    if (this.stage !== Stage.DISCARDING) return false
    this.#kept?.add(chunk)
    return true
  }

  onComplete(rawTrailers: RawList | string[] | null): void {
    const trailers = rawTrailers as RawList | null
    const balancer = this.core.balancer
    if (this.stage === Stage.DISCARDING) {
      balancer.release(this, statusOutcome(this.#status, false))
      this.#kept?.end(trailers)
      this.#wait(this.#delay)
      return
    }
    if (this.stage !== Stage.DELIVERING) return
    balancer.release(this, statusOutcome(this.#status, this.#status < 500))
    this.#abortUpstream = null
    this.tellComplete(trailers)
  }

  onUpgrade(status: number, raw: RawList, socket: Duplex): void {
    if (this.stage === Stage.DONE) {
      socket.destroy()
      return
    }
    this.core.balancer.release(this, statusOutcome(status, status < 500))
    this.#abortUpstream = null
    this.tellUpgrade(status, raw, socket)
  }

  onError(err: Error): void {
    const stage = this.stage
    if (stage === Stage.DONE || stage === Stage.WAITING) return
    const core = this.core
    this.#abortUpstream = null
    if (isCallerError(err)) {
      core.balancer.release(this, CANCELLED) // undici refused the request itself: not the backend's fault
      this.fail(err)
      return
    }
    const e = upstreamError(err, failurePhase(stage, this.#status), this.backend?.id)
    core.balancer.release(this, failureOutcome(e.failureKind))
    // Nothing is written before the pool's onConnect: any failure until then is a connect failure.
    const kind = stage === Stage.PENDING ? 'connect' : e.failureKind
    if (stage !== Stage.DELIVERING && mayRetry(core, this, kind)) {
      const delay = retryDelay(core.balancer, this.backend!, this.attempts, e, undefined, kind === 'connect')
      if (delay >= 0) {
        this.#lastError = err
        this.#kept = undefined
        this.#wait(delay)
        return
      }
    }
    this.fail(err)
  }

  #wait(delay: number): void {
    ;(this.#tried ??= new BackendSet()).add(this.backend!)
    this.stage = Stage.WAITING
    this.#abortUpstream = null
    this.#timer = setTimeout(onRetryTimer, delay, this)
  }

  /** @internal The backoff before a retry ended. */
  retryNow(): void {
    this.#timer = undefined
    if (this.stage !== Stage.WAITING) return
    if (this.core.destroyed) this.#giveUp(new errors.ClientDestroyedError())
    else this.#attempt()
  }

  /** No further attempt can be made: deliver the last answer or error (`err` when there was none). */
  #giveUp(err: unknown): void {
    const kept = this.#kept
    this.#kept = undefined
    if (kept?.complete !== true) {
      this.fail(this.#lastError ?? err)
      return
    }
    // The discarded retryable answer, as the backend sent it.
    this.stage = Stage.DELIVERING
    this.tellHeaders(kept.status, kept.rawHeaders, noop, kept.statusText)
    const chunks = kept.chunks
    for (let i = 0; i < chunks.length && this.stage === Stage.DELIVERING; i++) this.tellData(chunks[i]!)
    if (this.stage === Stage.DELIVERING) this.tellComplete(kept.trailers)
  }
}

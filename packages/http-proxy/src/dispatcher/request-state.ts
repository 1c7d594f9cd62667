/**
 * The caller-facing half of a balanced request: its lease slot fields, the default pick context
 * (`key`, `headers`, `url`, `method`), the controller a controller-API handler gets, and the calls
 * into the caller's handler that end the request exactly once.
 */
import type { Duplex } from 'node:stream'
import type { Backend, Balancer, LeaseSlot } from '@fulcrum/core'
import type { Dispatcher } from 'undici'
import type { Upstreams } from '../upstreams.js'
import type { DispatchContext, DispatcherConfig } from './options.js'
import * as user from './user-handler.js'

/** @internal What a request needs from its dispatcher. */
export interface AttemptCore {
  readonly balancer: Balancer<never>
  readonly config: DispatcherConfig
  readonly upstreams: Upstreams
  readonly destroyed: boolean
  /** Called exactly once when a request has ended, however it ended. */
  settle(): void
}

/** @internal Stages of a request, in order (`WAITING` loops back to `PENDING`). */
export const Stage = {
  /** Handed to a backend's pool; nothing was written yet. */
  PENDING: 0,
  /** The pool is writing the request. */
  CONNECTED: 1,
  /** The request was written. */
  SENT: 2,
  /** Dropping a retryable status's body before a retry. */
  DISCARDING: 3,
  /** Backoff before the next attempt; no backend held. */
  WAITING: 4,
  /** The caller has a response head: no more retries. */
  DELIVERING: 5,
  DONE: 6,
} as const

/** @internal */
export function noop(): void {}

/** @internal The state of one request shared by its attempts; see `AttemptHandler`. */
export abstract class RequestState implements LeaseSlot, DispatchContext, Dispatcher.DispatchController {
  backend: Backend | undefined = undefined
  startedAt = 0
  held = false
  readonly key: string | undefined = undefined
  /** Attempts made so far. */
  attempts = 0
  rawHeaders: user.RawList | null = null
  rawTrailers: user.RawList | null = null
  readonly options: Dispatcher.DispatchOptions
  protected readonly core: AttemptCore
  protected stage: number = Stage.PENDING
  protected resumeUpstream: () => void = noop
  readonly #user: Dispatcher.DispatchHandler
  readonly #modern: boolean
  #headers: Record<string, string | string[] | undefined> | undefined | null = null
  #paused = false
  #reason: Error | null = null

  constructor(core: AttemptCore, options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
    this.core = core
    this.options = options
    this.#user = handler
    this.#modern = user.usesController(handler)
  }

  get headers(): Readonly<Record<string, string | string[] | undefined>> | undefined {
    if (this.#headers === null) this.#headers = user.headerRecord(this.options.headers)
    return this.#headers
  }
  get url(): string {
    return this.options.path
  }
  get method(): string {
    return this.options.method
  }
  get aborted(): boolean {
    return this.#reason !== null
  }
  get paused(): boolean {
    return this.#paused
  }
  get reason(): Error | null {
    return this.#reason
  }

  /** Cancels the request (the caller's `abort`, `controller.abort()`, or a throwing handler). */
  abstract abort(reason?: Error): void

  /** Controller API: stop reading the response until `resume()`. */
  pause(): void {
    this.#paused = true
  }

  /** Controller API: read on. */
  resume(): void {
    if (!this.#paused) return
    this.#paused = false
    this.resumeUpstream()
  }

  protected markAborted(reason: Error): void {
    this.#reason = reason
  }

  protected get legacy(): boolean {
    return !this.#modern
  }

  protected get handler(): Dispatcher.DispatchHandler {
    return this.#user
  }

  protected tellStart(abort: (err?: Error) => void): void {
    user.callStart(this.#user, this.#modern, this, abort)
  }

  /** Gives the caller a response head; a throwing handler aborts the request, as in undici. */
  protected tellHeaders(status: number, raw: user.RawList, resume: () => void, text: string): boolean {
    try {
      return user.callHeaders(this.#user, this.#modern, this, status, raw, resume, text)
    } catch (err) {
      this.abort(err as Error)
      return false
    }
  }

  protected tellData(chunk: Buffer): boolean {
    try {
      return user.callData(this.#user, this.#modern, this, chunk)
    } catch (err) {
      this.abort(err as Error)
      return false
    }
  }

  protected tellComplete(trailers: user.RawList | null): void {
    this.end()
    user.callComplete(this.#user, this.#modern, this, trailers)
  }

  protected tellUpgrade(status: number, raw: user.RawList, socket: Duplex): void {
    this.end()
    user.callUpgrade(this.#user, this.#modern, this, status, raw, socket)
  }

  /** Ends the request with `err` (no-op once ended). */
  protected fail(err: unknown): void {
    if (this.stage === Stage.DONE) return
    this.end()
    this.tellError(err)
  }

  protected tellError(err: unknown): void {
    user.callError(this.#user, this.#modern, this, err as Error)
  }

  /** Marks the request done and tells the dispatcher; call it once, before the final callback. */
  protected end(): void {
    this.stage = Stage.DONE
    this.core.settle()
  }
}

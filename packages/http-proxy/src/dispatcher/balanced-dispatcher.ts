/**
 * `createBalancedDispatcher()`: an undici `Dispatcher` that load-balances every request over a
 * balancer's backends, so that undici's `request`, `stream`, `fetch`, `setGlobalDispatcher` and
 * libraries that take a dispatcher (`@fastify/reply-from`) all go through the balancer.
 */
import type { Balancer } from '@fulcrum/core'
import { Dispatcher, errors } from 'undici'
import { Upstreams } from '../upstreams.js'
import { AttemptHandler } from './attempt-handler.js'
import {
  type BalancedDispatcherOptions,
  type DispatchContext,
  type DispatcherConfig,
  resolveDispatcherOptions,
} from './options.js'
import type { AttemptCore } from './request-state.js'
import { callError, usesController } from './user-handler.js'

/** The state the requests of one dispatcher share. */
class DispatcherCore implements AttemptCore {
  readonly balancer: Balancer<never>
  readonly config: DispatcherConfig
  readonly upstreams: Upstreams
  /** Requests started and not yet ended (retry backoffs included). */
  active = 0
  closed = false
  destroyed = false
  #drained: (() => void) | undefined = undefined
  #closing: Promise<void> | undefined = undefined

  constructor(balancer: Balancer<never>, config: DispatcherConfig) {
    this.balancer = balancer
    this.config = config
    this.upstreams = new Upstreams(balancer, config.upstream, config)
  }

  settle(): void {
    if (--this.active === 0 && this.#drained !== undefined) {
      const drained = this.#drained
      this.#drained = undefined
      drained()
    }
  }

  close(): Promise<void> {
    this.closed = true
    this.#closing ??= (
      this.active === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.#drained = resolve))
    ).then(() => this.upstreams.close())
    return this.#closing
  }

  destroy(): Promise<void> {
    this.closed = true
    this.destroyed = true
    return this.upstreams.destroy()
  }
}

/**
 * An undici `Dispatcher` in front of a {@link Balancer}: every request, whatever its origin, goes to
 * a backend the balancer picks, over one keep-alive `Pool` per backend, and its outcome (status,
 * latency, failure kind) is reported back. Failures before any response reached the caller are
 * retried on a backend not yet tried, following the reverse proxy's rules: always when nothing was
 * sent (connect refused, connect timeout), otherwise only for idempotent methods with a replayable
 * body (none, a string or a buffer; fetch and stream bodies are read once); 502/503/504 answers to
 * such requests are retried too, honouring `Retry-After`, after the last attempt the answer is
 * delivered as it is. Retries are paid from the balancer's retry budget and attempts are at most
 * `1 + retries`.
 *
 * Errors reach the caller as undici reported them (`ECONNREFUSED`, `UND_ERR_SOCKET`,
 * `UND_ERR_CONNECT_TIMEOUT` …); when no backend can be picked the caller gets the balancer's
 * `NoBackendError` (`FULCRUM_ERR_NO_BACKEND`), or `BalancerClosedError` once it was closed. When an
 * admission plugin refuses the pick, the caller gets its `OverloadError` (`FULCRUM_ERR_OVERLOAD`,
 * with `retryAfterMs`), and nothing is retried; with a queueing plugin the request first waits in
 * its queue (aborting the request leaves the queue). A retry's refused pick ends the request with
 * the previous attempt's error instead. Requests to backends go with the backend's host as `Host`
 * unless the caller sets one. `dispatch()` always returns true: the per-backend pools queue
 * requests, and no `drain` event is emitted.
 *
 * Create one with {@link createBalancedDispatcher}; close it with `close()`, `destroy()` or
 * `await using`.
 *
 * @example
 * ```ts
 * const dispatcher = createBalancedDispatcher(lb)
 * const res = await fetch('http://users/42', { dispatcher })
 * await dispatcher.close()
 * ```
 */
export class BalancedDispatcher<Ctx = DispatchContext> extends Dispatcher {
  /** The balancer requests are balanced by. */
  readonly balancer: Balancer<Ctx>
  readonly #core: DispatcherCore

  /** @internal Use {@link createBalancedDispatcher}. */
  constructor(balancer: Balancer<Ctx>, options?: BalancedDispatcherOptions<Ctx>) {
    super()
    const config = resolveDispatcherOptions(balancer, options)
    this.balancer = balancer
    this.#core = new DispatcherCore(balancer as unknown as Balancer<never>, config)
  }

  /** True after `close()` or `destroy()`: new requests fail with `ClientClosedError`/`ClientDestroyedError`. */
  get closed(): boolean {
    return this.#core.closed
  }

  /** True after `destroy()`. */
  get destroyed(): boolean {
    return this.#core.destroyed
  }

  /** Requests in progress, retry backoffs included. */
  get active(): number {
    return this.#core.active
  }

  /** Dispatches a request to a picked backend; `options.origin` is ignored. Always returns true. */
  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (handler === null || typeof handler !== 'object')
      throw new errors.InvalidArgumentError('handler must be an object')
    const core = this.#core
    if (options === null || typeof options !== 'object' || core.closed) {
      const err =
        options === null || typeof options !== 'object'
          ? new errors.InvalidArgumentError('opts must be an object.')
          : core.destroyed
            ? new errors.ClientDestroyedError()
            : new errors.ClientClosedError()
      callError(handler, usesController(handler), abandoned, err)
      return false
    }
    core.active++
    new AttemptHandler(core, options, handler).start()
    return true
  }

  /** Stops taking requests, lets those in progress (and their retries) finish, then closes the pools. */
  override close(): Promise<void>
  override close(callback: () => void): void
  override close(callback?: () => void): Promise<void> | undefined {
    const done = this.#core.close()
    if (callback === undefined) return done
    void done.then(callback, callback)
    return undefined
  }

  /** Closes every pool at once: requests in progress fail. */
  override destroy(): Promise<void>
  override destroy(err: Error | null): Promise<void>
  override destroy(callback: () => void): void
  override destroy(err: Error | null, callback: () => void): void
  override destroy(
    errOrCallback?: Error | null | (() => void),
    callback?: () => void,
  ): Promise<void> | undefined {
    const cb = typeof errOrCallback === 'function' ? errOrCallback : callback
    const done = this.#core.destroy()
    if (cb === undefined) return done
    void done.then(cb, cb)
    return undefined
  }

  /** `await using dispatcher = createBalancedDispatcher(lb)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

/** The controller a refused request's controller-API handler gets. */
const abandoned: Dispatcher.DispatchController = Object.freeze({
  aborted: true,
  paused: false,
  reason: null,
  abort() {},
  pause() {},
  resume() {},
})

/**
 * Creates a load-balanced undici `Dispatcher` over `balancer`'s backends. Use it to make an HTTP
 * client balanced without a proxy hop: pass it as `dispatcher` to `fetch()` / `request()`, install
 * it with `setGlobalDispatcher()`, or hand it to a library that takes an undici dispatcher (for
 * `@fastify/reply-from`: `{ base: 'http://service', undici: dispatcher }`). The request's origin
 * is ignored — `fetch('http://service/users', { dispatcher })` goes to a picked backend.
 *
 * Throws `FULCRUM_ERR_INVALID_OPTION` naming the option path (`options.upstream.connections` …)
 * on a bad option.
 *
 * @example
 * ```ts
 * import { createBalancer } from '@fulcrum/core'
 * import { createBalancedDispatcher } from '@fulcrum/http-proxy'
 * import { fetch, setGlobalDispatcher } from 'undici'
 *
 * const lb = createBalancer().backends(['http://10.0.0.1:8080', 'http://10.0.0.2:8080']).retry({ retries: 2 }).build()
 * const dispatcher = createBalancedDispatcher(lb, { headersTimeoutMs: 10_000 })
 * const users = await (await fetch('http://users/api/users', { dispatcher })).json()
 * setGlobalDispatcher(dispatcher) // every fetch() of the process is balanced from here on
 * ```
 */
export function createBalancedDispatcher<Ctx>(
  balancer: Balancer<Ctx>,
  options?: BalancedDispatcherOptions<Ctx>,
): BalancedDispatcher<Ctx> {
  return new BalancedDispatcher(balancer, options)
}

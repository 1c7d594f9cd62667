/**
 * `concurrencyLimit()`: admission control on leases (Envoy circuit-breaker thresholds, HAProxy
 * `maxconn` / `maxqueue` / `timeout queue`).
 */
import {
  type Backend,
  BalancerClosedError,
  type BalancerControl,
  InvalidOptionError,
  OverloadError,
  type Plugin,
} from '@fulcrum/core'
import {
  type ConcurrencyLimitOptions,
  type ResolvedLimitOptions,
  resolveLimitOptions,
} from './limit-options.js'
import { Waiter, type WaiterHost, WaitQueue } from './queue.js'

/**
 * Counters of a {@link ConcurrencyLimit}, from {@link ConcurrencyLimit.stats}.
 *
 * @example
 * ```ts
 * const { held, queued, rejected }: ConcurrencyStats = limit.stats()
 * ```
 */
export interface ConcurrencyStats {
  /** Leases held on the balancer now. */
  readonly held: number
  /** Requests waiting in the queue now. */
  readonly queued: number
  /** Requests refused so far (each also emitted as `request:rejected`). */
  readonly rejected: number
}

/**
 * The plugin returned by {@link concurrencyLimit}; add it with `.use()`.
 *
 * @example
 * ```ts
 * const limit: ConcurrencyLimit = concurrencyLimit({ maxRequests: 100 })
 * const lb = createBalancer().backends(urls).use(limit).build()
 * limit.stats() // { held: 0, queued: 0, rejected: 0 }
 * ```
 */
export interface ConcurrencyLimit extends Plugin<unknown> {
  readonly name: string
  /** Always true: this plugin's vetoes mean "full" (`OverloadError`, not `NoBackendError`). */
  readonly overload: true
  /** The `retryAfterMs` of the `OverloadError`s this limit creates. */
  readonly retryAfterMs: number
  /** Current and cumulative counters. */
  stats(): ConcurrencyStats
}

/**
 * Limits the leases held on a balancer (`maxRequests`) and on each backend (`maxRequestsPerBackend`),
 * with an optional FIFO queue (`maxPending`, `queueTimeoutMs`). A lease is whatever the caller holds
 * between pick and release: a request for the HTTP proxy and `execute()`, a connection for the TCP
 * proxy, so the same plugin limits connections.
 *
 * A full balancer refuses the pick before selection; a full backend is skipped, and when every
 * candidate is full the pick fails with `OverloadError` (`FULCRUM_ERR_OVERLOAD`, a 503 with
 * `Retry-After` from the proxies). `pick()` always fails fast; `acquireAsync()` and `execute()`
 * wait in the queue: each release hands its capacity to the first waiter, which picks again, and
 * new requests do not barge past queued ones. The queue rejects with `OverloadError` when full
 * (`'maxPending'`) or after `queueTimeoutMs` (`'queueTimeout'`), and with the signal's reason on
 * abort. A request arriving in the same tick as a hand-off may take it; the waiter then goes back
 * to its old place in the queue.
 *
 * @example
 * ```ts
 * import { createBalancer } from '@fulcrum/core'
 * import { concurrencyLimit } from '@fulcrum/breaker'
 * const lb = createBalancer().backends(urls)
 *   .use(concurrencyLimit({ maxRequests: 1_000, maxRequestsPerBackend: 100, maxPending: 200, queueTimeoutMs: 500 }))
 *   .build()
 * const body = await lb.execute({}, (b, signal) => fetch(`${b.url}/x`, { signal }).then((r) => r.text()))
 * ```
 */
export function concurrencyLimit(options: ConcurrencyLimitOptions): ConcurrencyLimit {
  return new ConcurrencyLimitPlugin(resolveLimitOptions(options))
}

class ConcurrencyLimitPlugin implements ConcurrencyLimit, WaiterHost {
  readonly name: string
  readonly overload = true
  readonly retryAfterMs: number
  readonly #o: ResolvedLimitOptions
  readonly #queue = new WaitQueue()
  #control: BalancerControl | undefined
  #held = 0
  /** Capacity handed to woken waiters and not yet taken by an acquire. */
  #handoff = 0
  #rejected = 0
  #closed = false
  #unsubscribe: (() => void) | undefined

  constructor(o: ResolvedLimitOptions) {
    this.#o = o
    this.name = o.name
    this.retryAfterMs = o.retryAfterMs
  }

  start(control: BalancerControl): void {
    if (this.#control !== undefined)
      throw new InvalidOptionError(
        'plugins',
        `${this.name} is already attached to balancer "${this.#control.name}"; create one per balancer`,
      )
    this.#control = control
    // Capacity can also appear without a release (a backend added, enabled or healthy again).
    this.#unsubscribe = control.on('pool:update', () => this.#wake())
  }

  /** Full, or others are queued and no hand-off is pending (no barging). */
  #refuses(): boolean {
    return this.#held >= this.#o.maxRequests || (this.#queue.size > 0 && this.#handoff === 0)
  }

  admit(): boolean {
    return !this.#refuses()
  }

  accept(backend: Backend): boolean {
    // The balancer-wide limit is `admit`'s: core calls it once per pick, affinity hits included.
    return backend.inflight < this.#o.maxRequestsPerBackend
  }

  onAcquire(): void {
    this.#held++
    if (this.#handoff > 0) this.#handoff--
  }

  onRelease(): void {
    if (this.#held > 0) this.#held--
    this.#wake()
  }

  /** Hands capacity to the first waiter, which then picks again. */
  #wake(): void {
    const w = this.#queue.shift()
    if (w === undefined) return
    this.#control!.scheduler.cancel(w.entry)
    this.#handoff++
    w.resolve()
  }

  waitForCapacity(_ctx: unknown, queuedAt: number, signal?: AbortSignal): Promise<void> {
    if (this.#closed) return Promise.reject(new BalancerClosedError())
    if (signal?.aborted) return Promise.reject(signal.reason)
    const o = this.#o
    const queue = this.#queue
    if (o.maxPending === 0)
      return Promise.reject(
        this.#reject(this.#held >= o.maxRequests ? 'maxRequests' : 'maxRequestsPerBackend'),
      )
    // A request that queued before the newest waiter is coming back after a hand-off: let it in.
    if (queue.size >= o.maxPending && queuedAt >= queue.lastQueuedAt)
      return Promise.reject(this.#reject('maxPending'))
    const control = this.#control!
    const remaining = queuedAt + o.queueTimeoutMs - control.clock.now()
    if (remaining <= 0) return Promise.reject(this.#reject('queueTimeout'))
    const w = new Waiter(queuedAt, signal, this)
    w.entry = control.scheduler.schedule(w, remaining)
    signal?.addEventListener('abort', w, { once: true })
    queue.insert(w)
    return w.promise
  }

  timedOut(w: Waiter): void {
    this.#queue.remove(w)
    w.reject(this.#reject('queueTimeout'))
  }

  aborted(w: Waiter): void {
    this.#queue.remove(w)
    this.#control!.scheduler.cancel(w.entry)
    w.reject(w.signal!.reason)
  }

  /** Counts and reports a refusal; returns its error. */
  #reject(reason: string): OverloadError {
    this.#rejected++
    this.#control!.emit('request:rejected', { source: this.name, reason })
    return new OverloadError(this.name, reason, this.retryAfterMs)
  }

  stats(): ConcurrencyStats {
    return { held: this.#held, queued: this.#queue.size, rejected: this.#rejected }
  }

  close(): void {
    this.#closed = true
    this.#unsubscribe?.()
    const scheduler = this.#control?.scheduler
    for (let w = this.#queue.shift(); w !== undefined; w = this.#queue.shift()) {
      scheduler?.cancel(w.entry)
      w.reject(new BalancerClosedError())
    }
  }
}

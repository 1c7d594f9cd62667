import { EventEmitter } from 'eventemitter3'
import type { AdminState, Backend, BackendSnapshot, BackendSpec, BackendStatsOptions } from './backend.js'
import { BackendSet } from './backend-set.js'
import { createBackend, MAX_WEIGHT } from './backend-spec.js'
import type { Clock } from './clock.js'
import { BalancerClosedError, isOverloadError, NoBackendError, OverloadError } from './errors.js'
import type { BalancerEventName, BalancerEvents, BalancerListener, PluginEventName } from './events.js'
import { type ExecuteOptions, execute } from './execute.js'
import { Lease, type LeaseSlot } from './lease.js'
import { OK, type Outcome } from './outcome.js'
import type { AttemptFn, BalancerControl, Observer, Plugin } from './plugin.js'
import { Pool } from './pool.js'
import { sharedScheduler } from './primitives/scheduler.js'
import type { Random } from './random.js'
import type { RetryPolicy } from './retry-policy.js'
import type { PickContext, PoolSnapshot, Selector, Strategy } from './strategy.js'
import { checkNumber } from './validate.js'

/** @internal The validated configuration `createBalancer().build()` hands to the balancer. */
export interface BalancerConfig<Ctx> {
  readonly name: string
  readonly backends: readonly BackendSpec[]
  readonly strategy: Strategy<Ctx>
  readonly plugins: readonly Plugin<Ctx>[]
  readonly observers: readonly Observer[]
  readonly retry: RetryPolicy
  readonly clock: Clock
  readonly random: Random
  readonly stats: BackendStatsOptions
  readonly panicThreshold: number
  readonly failOnPanic: boolean
  readonly maxFails: number
  readonly failTimeoutMs: number
}

/** The JSON view returned by `balancer.snapshot()`. */
export interface BalancerSnapshot {
  readonly name: string
  readonly strategy: string
  readonly version: number
  readonly panic: boolean
  readonly eligible: number
  readonly backends: readonly BackendSnapshot[]
}

function overload<Ctx>(plugin: Plugin<Ctx>, reason: string): OverloadError {
  return new OverloadError(plugin.name, reason, plugin.retryAfterMs)
}

/** Picks per call at most, when plugins keep vetoing candidates, before the pick gives up. */
const MAX_VETOES = 32
const EMPTY_CTX: PickContext = Object.freeze({})

/**
 * A load balancer over a pool of backends. Build one with `createBalancer()`.
 *
 * - `pick()` → {@link Lease} → `lease.release(outcome)`: the synchronous hot path for any client.
 * - `execute(ctx, fn)`: pick, call, release, with retries on backends not yet tried.
 * - `add()`, `remove()`, `drain()`, `disable()`, `enable()`, `setWeight()`: runtime membership;
 *   every change rebuilds the strategy off the pick path and swaps it in.
 * - Typed events (`on('backend:state', …)`), `snapshot()`, `close()` / `await using`.
 */
export class Balancer<Ctx = PickContext> {
  /** The balancer's name (for metrics and logs). */
  readonly name: string
  /** The validated retry policy; proxies share its budget. */
  readonly retryPolicy: RetryPolicy
  /** The injected clock. */
  readonly clock: Clock
  /** The injected random source. */
  readonly random: Random
  readonly #strategy: Strategy<Ctx>
  readonly #events = new EventEmitter<BalancerEvents>()
  readonly #pool: Pool
  readonly #plugins: readonly Plugin<Ctx>[]
  readonly #accept: readonly Plugin<Ctx>[]
  readonly #onAcquire: readonly Plugin<Ctx>[]
  readonly #onRelease: readonly Plugin<Ctx>[]
  readonly #wraps: readonly Plugin<Ctx>[]
  readonly #admit: readonly Plugin<Ctx>[]
  readonly #queues: readonly Plugin<Ctx>[]
  readonly #stats: BackendStatsOptions
  readonly #scratch = new BackendSet()
  readonly #maxFails: number
  readonly #failTimeoutMs: number
  readonly #detach: (() => void)[] = []
  #selector: Selector<Ctx> = { select: () => undefined }
  #closed = false

  /** @internal Use `createBalancer()`. */
  constructor(config: BalancerConfig<Ctx>) {
    this.name = config.name
    this.retryPolicy = config.retry
    this.clock = config.clock
    this.random = config.random
    this.#strategy = config.strategy
    this.#stats = config.stats
    this.#plugins = config.plugins
    this.#maxFails = config.maxFails
    this.#failTimeoutMs = config.failTimeoutMs
    this.#accept = config.plugins.filter((p) => p.accept)
    this.#onAcquire = config.plugins.filter((p) => p.onAcquire)
    this.#onRelease = config.plugins.filter((p) => p.onRelease)
    this.#wraps = config.plugins.filter((p) => p.wrap)
    this.#admit = config.plugins.filter((p) => p.admit)
    this.#queues = config.plugins.filter((p) => p.waitForCapacity)
    this.#pool = new Pool(
      (event, ...args) => this.emit(event, ...args),
      (snapshot) => this.#rebuild(snapshot),
      config.panicThreshold,
      config.failOnPanic,
    )
    this.#pool.batch(() => {
      config.backends.forEach((spec, i) => {
        this.#pool.add(createBackend(spec, `backends[${i}]`, this.#stats))
      })
    })
    if (this.#pool.snapshot.version === 0) this.#rebuild(this.#pool.snapshot)
    const control = this.#control()
    for (const p of config.plugins) p.start?.(control)
    for (const o of config.observers) this.#detach.push(o.attach(control))
  }

  #rebuild(snapshot: PoolSnapshot): void {
    // Built before it is published: a pick sees the old selector or the new one, never half of one.
    this.#selector = this.#strategy.build(snapshot, { random: this.random, clock: this.clock })
  }

  #control(): BalancerControl {
    return Object.freeze({
      name: this.name,
      clock: this.clock,
      random: this.random,
      backends: () => [...this.#pool.snapshot.all],
      get: (id: string) => this.#pool.get(id),
      setHealth: (b: Backend, source: string, healthy: boolean, reason: string) => {
        if (this.#pool.get(b.id) === b) this.#pool.setHealth(b, source, healthy, reason)
      },
      setWeightFactor: (b: Backend, factor: number) => {
        checkNumber('weightFactor', factor, { min: 0, max: 1, minExclusive: true })
        if (this.#pool.get(b.id) === b) this.#pool.setWeightFactor(b, factor)
        else {
          // Not a member (removed): no snapshot to publish, but keep the backend consistent.
          b.weightFactor = factor
          b.effectiveWeight = b.weight * factor
        }
      },
      update: <T>(fn: () => T) => this.#pool.batch(fn),
      scheduler: sharedScheduler(this.clock),
      emit: <E extends PluginEventName>(event: E, ...args: BalancerEvents[E]) => this.emit(event, ...args),
      on: <E extends BalancerEventName>(event: E, listener: BalancerListener<E>) => {
        this.on(event, listener)
        return () => this.off(event, listener)
      },
    })
  }

  /**
   * Picks a backend and returns a lease on it; the backend's in-flight count includes the request
   * until `lease.release()`. Throws `NoBackendError` (`FULCRUM_ERR_NO_BACKEND`) when no backend is
   * eligible, never returns `undefined`.
   *
   * @param tried backends this request already tried (for manual retries); never picked again
   * @example
   * ```ts
   * const lease = lb.pick({ key: 'user-42' })
   * lease.release({ ok: true })
   * ```
   */
  pick(ctx?: Ctx, tried?: BackendSet): Lease {
    const lease = new Lease(this)
    this.acquire(ctx ?? (EMPTY_CTX as Ctx), lease, tried)
    return lease
  }

  /**
   * The allocation-free form of {@link Balancer.pick}: fills a caller-owned {@link LeaseSlot} and
   * returns the backend. Pair every call with {@link Balancer.release} on the same slot.
   */
  acquire(ctx: Ctx, slot: LeaseSlot, tried?: BackendSet): Backend {
    if (this.#closed) throw new BalancerClosedError()
    if (slot.held) this.release(slot)
    const admit = this.#admit
    for (let i = 0; i < admit.length; i++)
      if (!admit[i]!.admit!(ctx)) throw overload(admit[i]!, 'admission refused')
    const skip = tried ?? this.#scratch
    const base = skip.size
    const now = this.clock.now()
    const selector = this.#selector
    let picked: Backend | undefined
    let failing: Backend | undefined
    let full: Plugin<Ctx> | undefined
    for (let round = 0; round < MAX_VETOES; round++) {
      const b = selector.select(ctx, skip, now)
      if (b === undefined) break
      if (this.#recentlyFailed(b, now)) failing ??= b
      else {
        const veto = this.#veto(b, ctx)
        if (veto === undefined) {
          picked = b
          break
        }
        if (veto.overload === true) full ??= veto
      }
      skip.add(b)
    }
    skip.truncate(base)
    // Fail open: a backend that failed recently beats no backend at all.
    if (picked === undefined && failing !== undefined && this.#veto(failing, ctx) === undefined)
      picked = failing
    if (picked === undefined) {
      if (full !== undefined) throw overload(full, 'every backend is at its limit')
      const snap = this.#pool.snapshot
      throw new NoBackendError(snap.all.length, snap.eligible.length)
    }
    this.#hold(picked, ctx, slot, now)
    return picked
  }

  /** Books `b` as held by `slot` from `now` and tells the plugins. */
  #hold(b: Backend, ctx: Ctx, slot: LeaseSlot, now: number): void {
    b.inflight++
    slot.backend = b
    slot.startedAt = now
    slot.held = true
    const hooks = this.#onAcquire
    for (let i = 0; i < hooks.length; i++) hooks[i]!.onAcquire!(b, ctx)
  }

  /**
   * Acquires a given backend for an affinity hit (a sticky cookie, a session table), filling `slot`
   * as {@link Balancer.acquire} does. Returns false, and holds nothing, when the backend is no longer
   * a member, is disabled, is unhealthy (outside panic mode), or a plugin vetoes it; the caller then
   * falls back to `acquire()`. A draining backend is accepted: draining keeps sticky clients.
   *
   * @example
   * ```ts
   * if (!lb.acquireBackend(pinned, ctx, slot)) lb.acquire(ctx, slot)
   * ```
   */
  acquireBackend(backend: Backend, ctx: Ctx, slot: LeaseSlot): boolean {
    if (this.#closed) throw new BalancerClosedError()
    if (slot.held) this.release(slot)
    if (this.#pool.get(backend.id) !== backend || backend.admin === 'disabled') return false
    if (backend.health !== 'healthy' && !this.#pool.snapshot.panic) return false
    const admit = this.#admit
    for (let i = 0; i < admit.length; i++) if (!admit[i]!.admit!(ctx)) return false
    const now = this.clock.now()
    if (this.#recentlyFailed(backend, now) || this.#veto(backend, ctx) !== undefined) return false
    this.#hold(backend, ctx, slot, now)
    return true
  }

  /** NGINX `max_fails` / `fail_timeout`: skipped after `maxFails` consecutive failures, until the window ends. */
  #recentlyFailed(b: Backend, now: number): boolean {
    const c = b.counters
    return (
      this.#maxFails > 0 &&
      c.consecutiveFailures >= this.#maxFails &&
      now - c.lastFailureAt < this.#failTimeoutMs
    )
  }

  /** The first plugin that vetoes `b` for this pick, or undefined when all accept it. */
  #veto(b: Backend, ctx: Ctx): Plugin<Ctx> | undefined {
    const hooks = this.#accept
    for (let i = 0; i < hooks.length; i++) if (!hooks[i]!.accept!(b, ctx)) return hooks[i]
    return undefined
  }

  /** True when an admission plugin can queue picks it refuses (see {@link Balancer.acquireAsync}). */
  get queues(): boolean {
    return this.#queues.length > 0
  }

  /**
   * {@link Balancer.acquire} that waits in the admission queue: when a limit refuses the pick with
   * `OverloadError` and its plugin queues, waits for capacity (bounded by the plugin's queue length
   * and timeout, and by `signal`) and picks again. Without a queueing plugin it is `acquire()`.
   *
   * @example
   * ```ts
   * const backend = await lb.acquireAsync(ctx, slot, undefined, AbortSignal.timeout(5_000))
   * ```
   */
  async acquireAsync(ctx: Ctx, slot: LeaseSlot, tried?: BackendSet, signal?: AbortSignal): Promise<Backend> {
    let queuedAt = -1
    for (;;) {
      try {
        return this.acquire(ctx, slot, tried)
      } catch (err) {
        if (!isOverloadError(err)) throw err
        const queue = this.#queues.find((p) => p.name === err.source)
        if (queue === undefined) throw err
        if (queuedAt < 0) queuedAt = this.clock.now()
        await queue.waitForCapacity!(ctx, queuedAt, signal)
      }
    }
  }

  /**
   * Ends the attempt held in `slot` and feeds its outcome to the backend's statistics, plugins and
   * `request:end` listeners. A slot that is not held is ignored, so a double release never
   * double-decrements. @default outcome `{ ok: true }`
   */
  release(slot: LeaseSlot, outcome: Outcome = OK): void {
    if (!slot.held) return
    slot.held = false
    const b = slot.backend!
    b.inflight--
    const now = this.clock.now()
    const latencyMs = outcome.latencyMs ?? now - slot.startedAt
    b.record(outcome, latencyMs, now)
    const hooks = this.#onRelease
    for (let i = 0; i < hooks.length; i++) hooks[i]!.onRelease!(b, outcome, latencyMs, now)
    if (this.#events.listenerCount('request:end') > 0)
      this.#events.emit('request:end', { backend: b, outcome, latencyMs, startedAt: slot.startedAt })
  }

  /**
   * Runs `fn` on a picked backend and releases it with the outcome; on failure retries on a backend
   * not yet tried, per the retry policy (backoff, budget, deadline). Rejects with the last error, or
   * `NoBackendError` when nothing could be picked.
   *
   * @example
   * ```ts
   * const body = await lb.execute({ key: id }, (b, signal) => fetch(`${b.url}/users/${id}`, { signal }).then((r) => r.json()))
   * ```
   */
  execute<T>(ctx: Ctx, fn: AttemptFn<T>, options?: ExecuteOptions): Promise<T> {
    return execute(this, ctx, fn, options)
  }

  /** @internal Wraps an attempt with the plugins' `wrap` (first plugin outermost). */
  wrap<T>(fn: AttemptFn<T>): AttemptFn<T> {
    let call = fn as AttemptFn
    for (let i = this.#wraps.length - 1; i >= 0; i--) call = this.#wraps[i]!.wrap!(call)
    return call as AttemptFn<T>
  }

  /** @internal */
  emit<E extends BalancerEventName>(event: E, ...args: BalancerEvents[E]): void {
    if (this.#closed) return
    ;(this.#events.emit as (event: string, ...args: unknown[]) => boolean).call(this.#events, event, ...args)
  }

  /** Adds a backend at runtime; returns it. Throws on a bad spec or a duplicate id. */
  add(spec: BackendSpec): Backend {
    return this.#pool.add(createBackend(spec, 'backend', this.#stats))
  }

  /** Removes a backend; requests in flight on it finish normally. */
  remove(id: string): Backend {
    return this.#pool.remove(id)
  }

  /** Stops new picks of a backend; in-flight requests and sticky clients continue. */
  drain(id: string, reason = 'drain'): void {
    this.#setAdmin(id, 'draining', reason)
  }

  /** Takes a backend out of all traffic (maintenance). */
  disable(id: string, reason = 'disable'): void {
    this.#setAdmin(id, 'disabled', reason)
  }

  /** Returns a drained or disabled backend to service. */
  enable(id: string, reason = 'enable'): void {
    this.#setAdmin(id, 'active', reason)
  }

  #setAdmin(id: string, admin: AdminState, reason: string): void {
    this.#pool.setAdmin(this.#pool.require(id), admin, reason)
  }

  /** Changes a backend's weight (0 = no new picks); statistics and health are kept. */
  setWeight(id: string, weight: number): void {
    checkNumber('weight', weight, { min: 0, max: MAX_WEIGHT })
    this.#pool.setWeight(this.#pool.require(id), weight)
  }

  /** Applies several changes and publishes one snapshot (one strategy rebuild) at the end. */
  update<T>(fn: (balancer: this) => T): T {
    return this.#pool.batch(() => fn(this))
  }

  /** The backend with this id, or `undefined`. */
  get(id: string): Backend | undefined {
    return this.#pool.get(id)
  }

  /** Every backend, in insertion order. */
  backends(): readonly Backend[] {
    return this.#pool.snapshot.all
  }

  /** The immutable membership snapshot strategies are built from. */
  get pool(): PoolSnapshot {
    return this.#pool.snapshot
  }

  /** A JSON-friendly view of the balancer and its backends. */
  snapshot(): BalancerSnapshot {
    const snap = this.#pool.snapshot
    return {
      name: this.name,
      strategy: this.#strategy.name,
      version: snap.version,
      panic: snap.panic,
      eligible: snap.eligible.length,
      backends: snap.all.map((b) => b.toJSON()),
    }
  }

  /** Subscribes to an event. */
  on<E extends BalancerEventName>(event: E, listener: BalancerListener<E>): this {
    this.#events.on(event, listener as never)
    return this
  }

  /** Subscribes to the next occurrence of an event. */
  once<E extends BalancerEventName>(event: E, listener: BalancerListener<E>): this {
    this.#events.once(event, listener as never)
    return this
  }

  /** Unsubscribes. */
  off<E extends BalancerEventName>(event: E, listener: BalancerListener<E>): this {
    this.#events.off(event, listener as never)
    return this
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed
  }

  /** Stops plugins and health checks, detaches observers; later picks throw `FULCRUM_ERR_CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const d of this.#detach.splice(0)) d()
    await Promise.all(this.#plugins.map((p) => p.close?.()))
    this.#events.emit('balancer:close')
    this.#events.removeAllListeners()
  }

  /** `await using lb = createBalancer()…build()` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

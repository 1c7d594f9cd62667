import type { Duplex } from 'node:stream'
import {
  type Backend,
  type Clock,
  checkFunction,
  checkObject,
  checkOneOf,
  checkOptions,
  checkString,
  describeValue,
  InvalidOptionError,
  mathRandom,
  optionalNumber,
  type Random,
  systemClock,
} from '@fulcrum/core'
import type { Direction, FaultHooks } from '../types.js'
import { appliesTo, type FaultEntry, NO_EFFECT, resolveEffect } from './effect.js'
import { FaultStream, type FaultStreamHost } from './fault-stream.js'
import { normalizeToxic, type Toxic } from './toxic.js'

/**
 * Options of {@link Faults}.
 *
 * @example
 * ```ts
 * const faults = new Faults({ clock: new VirtualClock(), random: seededRandom(1), wrapAlways: true })
 * ```
 */
export interface FaultsOptions {
  /** Time source of latency and bandwidth timers. @default core's `systemClock` */
  readonly clock?: Clock
  /** Source of latency jitter. @default core's `mathRandom` */
  readonly random?: Random
  /**
   * Most bytes one stream holds while a latency toxic delays them, before it stops reading
   * (backpressure); with latency `L` ms this caps a connection's throughput near
   * `maxBufferBytes / L` per ms, like a TCP window. Without latency a stream holds about one
   * chunk (its `writableHighWaterMark`).
   * @default 1 MiB
   */
  readonly maxBufferBytes?: number
  /**
   * Wrap every connection, even when no toxic applies to it when it opens, so toxics added later
   * reach all live connections. When false, a connection that opens without toxics is not wrapped
   * and pays nothing, and only new connections see toxics added later.
   * @default false
   */
  readonly wrapAlways?: boolean
}

/**
 * Where {@link Faults.add} puts a toxic.
 *
 * @example
 * ```ts
 * const scope: AddToxicOptions = { backend: 'db-1', direction: 'downstream', name: 'slow-db' }
 * ```
 */
export interface AddToxicOptions {
  /** Only connections to the backend with this id. @default every backend of the proxy */
  readonly backend?: string
  /**
   * `'upstream'` (client → backend), `'downstream'` (backend → client) or `'both'`.
   * @default 'both'
   */
  readonly direction?: Direction | 'both'
  /**
   * The entry's id. Adding a toxic under a name already registered replaces that entry in place
   * (a reset-after budget then counts afresh). @default `<kind>-<n>`
   */
  readonly name?: string
}

const DIRECTIONS: readonly (Direction | 'both')[] = ['upstream', 'downstream', 'both']

/**
 * Fault injection for `createTcpProxy()` — a toxiproxy for Node tests. A registry of toxics
 * ({@link latency}, {@link bandwidth}, {@link resetAfter}, {@link blackhole}, {@link slowClose}),
 * each for the whole proxy or one backend id and for one direction or both, which a test switches at
 * run time with {@link Faults.add}, {@link Faults.remove} and {@link Faults.clear}; give it to the
 * proxy as its `faults` option.
 *
 * Changes apply at once to new connections. Live connections that were wrapped (some stream toxic
 * applied when they opened, or `wrapAlways`) see them too: latency and bandwidth at the next chunk
 * or piece (chunks already queued are rescheduled), a reset-after budget counted from the moment it
 * was added, a one-way blackhole from the next chunk; slow close at the next close. A two-way
 * blackhole only stops new connections (the proxy asks {@link Faults.blackhole} when one opens), but
 * drops the bytes of wrapped live ones.
 *
 * Use it in integration tests that must see how a client behaves when its dependency is slow,
 * throttled, dropped mid-stream or silent — without touching the dependency.
 *
 * @example
 * ```ts
 * const faults = new Faults()
 * const proxy = createTcpProxy(lb, { faults })
 * const id = faults.add(latency({ ms: 300 }), { backend: 'redis-1', direction: 'downstream' })
 * // … assert the client times out …
 * faults.remove(id)
 * faults.add(resetAfter({ bytes: 0 }), { backend: 'redis-1' }) // every new connection is reset
 * ```
 */
export class Faults implements FaultHooks {
  readonly #clock: Clock
  readonly #wrapAlways: boolean
  readonly #host: FaultStreamHost
  #entries: FaultEntry[] = []
  #seq = 0
  readonly #live = new Set<FaultStream>()

  constructor(options?: FaultsOptions) {
    const o = checkOptions('faults', options, ['clock', 'random', 'maxBufferBytes', 'wrapAlways'])
    this.#clock = o.clock === undefined ? systemClock : checkClock(o.clock)
    const random = o.random === undefined ? mathRandom : checkRandom(o.random)
    const maxBufferBytes = optionalNumber('faults.maxBufferBytes', o.maxBufferBytes, 1024 * 1024, {
      min: 1,
      integer: true,
    })
    if (o.wrapAlways !== undefined && typeof o.wrapAlways !== 'boolean')
      throw new InvalidOptionError(
        'faults.wrapAlways',
        `expected a boolean, got ${describeValue(o.wrapAlways)}`,
      )
    this.#wrapAlways = o.wrapAlways === true
    const live = this.#live
    this.#host = {
      clock: this.#clock,
      random,
      maxBufferBytes,
      detach: (stream) => {
        live.delete(stream)
      },
    }
  }

  /**
   * Registers a toxic and applies it to new connections and to wrapped live ones (see the class
   * notes). Throws `InvalidOptionError` (paths `faults.add.*`, or the factory's, e.g.
   * `faults.latency.ms` for a hand-written toxic).
   *
   * @param toxic a value from a toxic factory
   * @param options scope: `backend` (@default every backend), `direction` (@default 'both') and
   *   `name` (the id; @default `<kind>-<n>`)
   * @returns the entry's id, for {@link Faults.remove}
   * @example
   * ```ts
   * const id = faults.add(bandwidth({ bytesPerSecond: 65_536 }), { direction: 'downstream' })
   * ```
   */
  add(toxic: Toxic, options?: AddToxicOptions): string {
    const o = checkOptions('faults.add', options, ['backend', 'direction', 'name'])
    const t = normalizeToxic('faults.add.toxic', toxic)
    const backend = o.backend === undefined ? undefined : checkString('faults.add.backend', o.backend)
    const direction =
      o.direction === undefined ? 'both' : checkOneOf('faults.add.direction', o.direction, DIRECTIONS)
    const id = o.name === undefined ? this.#nextId(t.kind) : checkString('faults.add.name', o.name)
    const entry: FaultEntry = Object.freeze({ id, toxic: t, backend, direction })
    const at = this.#entries.findIndex((e) => e.id === id)
    const next = this.#entries.slice()
    if (at >= 0) next[at] = entry
    else next.push(entry)
    this.#entries = next
    this.#changed()
    return id
  }

  /**
   * Unregisters a toxic; live wrapped connections stop feeling it at their next chunk (queued
   * chunks are rescheduled without its latency).
   *
   * @returns false when no entry has this id
   * @example
   * ```ts
   * const id = faults.add(latency({ ms: 500 }))
   * faults.remove(id) // → true
   * ```
   */
  remove(id: string): boolean {
    const next = this.#entries.filter((e) => e.id !== id)
    if (next.length === this.#entries.length) return false
    this.#entries = next
    this.#changed()
    return true
  }

  /**
   * Unregisters every toxic (e.g. in `afterEach`). Wrapped live connections keep their stream, which
   * then passes data through untouched.
   *
   * @example
   * ```ts
   * afterEach(() => faults.clear())
   * ```
   */
  clear(): void {
    if (this.#entries.length === 0) return
    this.#entries = []
    this.#changed()
  }

  /**
   * The registered toxics, in the order they were added (a replaced entry keeps its place).
   *
   * @example
   * ```ts
   * expect(faults.list().map((e) => e.id)).toEqual(['latency-1'])
   * ```
   */
  list(): readonly FaultEntry[] {
    return this.#entries
  }

  /**
   * How many wrapped connection directions are live (streams from {@link Faults.wrap} not yet
   * destroyed); a diagnostic for tests.
   *
   * @example
   * ```ts
   * expect(faults.liveStreams).toBe(0) // every wrapped connection was torn down
   * ```
   */
  get liveStreams(): number {
    return this.#live.size
  }

  /**
   * Hook for the proxy: true when a new connection must be accepted and never answered, because a
   * {@link blackhole} toxic for both directions applies — one for every backend, or, when `backend`
   * is given (after the pick), one scoped to that backend. `undefined` asks before the pick, so only
   * proxy-wide blackholes match.
   *
   * @example
   * ```ts
   * if (faults.blackhole(undefined)) return holdForever(client)
   * ```
   */
  blackhole(backend: Backend | undefined): boolean {
    const id = backend?.id
    for (const e of this.#entries) {
      if (e.toxic.kind !== 'blackhole' || e.direction !== 'both') continue
      if (e.backend === undefined || e.backend === id) return true
    }
    return false
  }

  /**
   * Hook for the proxy: a stream to insert between the source and destination sockets of one
   * direction of a new connection (`source.pipe(stream).pipe(destination)`), or `undefined` when no
   * stream toxic (latency, bandwidth, reset-after, blackhole) applies and `wrapAlways` is off, so a
   * connection without faults pays nothing. The stream applies backpressure both ways and ends after
   * its queue has drained. It errors with a {@link FaultResetError} (`code: 'ECONNRESET'`) when a
   * reset-after budget runs out: then reset both sockets. Destroy it with the connection.
   *
   * @example
   * ```ts
   * const up = faults.wrap('upstream', backend)
   * ;(up ? client.pipe(up) : client).pipe(upstreamSocket)
   * ```
   */
  wrap(direction: Direction, backend: Backend): Duplex | undefined {
    const effect = resolveEffect(this.#entries, direction, backend.id)
    if (effect === undefined && !this.#wrapAlways) return undefined
    const stream = new FaultStream(this.#host, direction, backend.id, effect ?? NO_EFFECT)
    if (!stream.destroyed) this.#live.add(stream)
    return stream
  }

  /**
   * Hook for the proxy: how long to hold a close (FIN) in `direction` before forwarding it — the
   * largest `ms` of the {@link slowClose} toxics that apply, or 0.
   *
   * @example
   * ```ts
   * source.once('end', () => setTimeout(() => destination.end(), faults.closeDelayMs('downstream', backend)))
   * ```
   */
  closeDelayMs(direction: Direction, backend: Backend): number {
    let ms = 0
    for (const e of this.#entries) {
      if (e.toxic.kind === 'slowClose' && e.toxic.ms > ms && appliesTo(e, direction, backend.id))
        ms = e.toxic.ms
    }
    return ms
  }

  #nextId(kind: string): string {
    let id: string
    do id = `${kind}-${++this.#seq}`
    while (this.#entries.some((e) => e.id === id))
    return id
  }

  /** Pushes the new registry to every live stream. */
  #changed(): void {
    const entries = this.#entries
    for (const stream of this.#live) {
      stream.update(resolveEffect(entries, stream.direction, stream.backendId) ?? NO_EFFECT)
    }
  }
}

function checkClock(value: unknown): Clock {
  checkObject('faults.clock', value)
  checkFunction('faults.clock.now', value.now)
  checkFunction('faults.clock.setTimer', value.setTimer)
  checkFunction('faults.clock.clearTimer', value.clearTimer)
  return value as unknown as Clock
}

function checkRandom(value: unknown): Random {
  checkObject('faults.random', value)
  checkFunction('faults.random.next', value.next)
  return value as unknown as Random
}

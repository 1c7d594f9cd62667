import net, { type AddressInfo } from 'node:net'
import {
  type Balancer,
  checkOptions,
  checkString,
  describeValue,
  InvalidOptionError,
  optionalNumber,
} from '@fulcrum/core'
import { ProxyClosedError } from './errors.js'
import type { TcpProxyEventName, TcpProxyListener } from './events.js'
import { ProxyHub } from './hub.js'
import type { TcpProxyOptions, TcpRoute } from './options.js'
import { resolveTcpProxyOptions } from './resolve-options.js'
import type { TcpProxyStats } from './stats.js'
import type { TcpContext } from './types.js'

/**
 * Where {@link TcpProxy.listen} listens.
 *
 * @example
 * ```ts
 * await proxy.listen({ port: 5432, host: '0.0.0.0', backlog: 1024 })
 * ```
 */
export interface TcpListenOptions {
  /** TCP port; 0 picks a free one (read it from the returned address). @default 0 */
  readonly port?: number
  /** Address to bind. @default undefined: Node's default, every interface (`::` or `0.0.0.0`) */
  readonly host?: string
  /** Length of the kernel's accept queue. @default Node's (511) */
  readonly backlog?: number
}

/**
 * Options of {@link TcpProxy.close}.
 *
 * @example
 * ```ts
 * await proxy.close({ graceMs: 30_000 }) // drain for up to 30 s, then cut what is left
 * ```
 */
export interface TcpCloseOptions {
  /**
   * How long open connections may go on after the proxy stops accepting, in ms; those still open
   * then are destroyed (`connection:close` reason `'drain'`). 0 destroys them at once.
   * @default 0
   */
  readonly graceMs?: number
}

const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * An L4 (TCP) load balancer on `node:net`: for each connection it picks a backend from a Fulcrum
 * balancer, connects (failing over to a backend not yet tried), and relays bytes both ways with
 * backpressure and half-close. Create it with {@link createTcpProxy}; accept connections with
 * {@link TcpProxy.listen} or feed sockets accepted elsewhere to {@link TcpProxy.handle}.
 *
 * The balancer sees one attempt per connection, held for the connection's life (so
 * least-connections counts open connections) and released with its outcome: success with the
 * connect time as latency; `connect` for a failed connect; `reset` when the backend broke an
 * established connection; `cancelled` when the client went away first. The proxy never closes
 * the balancer.
 *
 * @example
 * ```ts
 * const proxy = createTcpProxy(lb, { idleTimeoutMs: 60_000 })
 * const { port } = await proxy.listen({ port: 6379, host: '127.0.0.1' })
 * proxy.on('connection:error', ({ reason, error }) => log.warn({ reason, error }))
 * // …
 * await proxy.close({ graceMs: 10_000 })
 * ```
 */
export class TcpProxy {
  readonly #hub: ProxyHub
  readonly #server: net.Server
  #closing: Promise<void> | undefined

  /** @internal Use {@link createTcpProxy}. */
  constructor(hub: ProxyHub) {
    this.#hub = hub
    this.#server = net.createServer({ allowHalfOpen: true, noDelay: hub.options.noDelay }, (socket) =>
      hub.accept(socket),
    )
    this.#server.on('error', (error) => {
      if (this.#server.listening) hub.events.emit('proxy:error', error)
    })
  }

  /** The listening `net.Server` (for `maxConnections`, `ref()`/`unref()`, …; do not close it directly). */
  get server(): net.Server {
    return this.#server
  }

  /**
   * Starts accepting connections; resolves with the bound address once listening.
   *
   * @param target a port, or `{ port, host, backlog }` @default port 0, Node's default host
   * @example
   * ```ts
   * const { port } = await proxy.listen({ port: 0, host: '127.0.0.1' })
   * ```
   */
  listen(target: number | TcpListenOptions = 0): Promise<AddressInfo> {
    if (this.#closing !== undefined) return Promise.reject(new ProxyClosedError())
    const o = checkOptions('tcpProxy.listen', typeof target === 'number' ? { port: target } : target, [
      'port',
      'host',
      'backlog',
    ])
    const port = optionalNumber('tcpProxy.listen.port', o.port, 0, { min: 0, max: 65_535, integer: true })
    const host = o.host === undefined ? undefined : checkString('tcpProxy.listen.host', o.host)
    const backlog =
      o.backlog === undefined
        ? undefined
        : optionalNumber('tcpProxy.listen.backlog', o.backlog, 511, { min: 0, integer: true })
    const server = this.#server
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        server.off('listening', onListening)
        reject(error)
      }
      const onListening = (): void => {
        server.off('error', onError)
        resolve(server.address() as AddressInfo)
      }
      server.once('error', onError)
      server.once('listening', onListening)
      server.listen({
        port,
        ...(host === undefined ? {} : { host }),
        ...(backlog === undefined ? {} : { backlog }),
      })
    })
  }

  /** The bound address, or `undefined` when not listening. */
  address(): AddressInfo | undefined {
    const a = this.#server.address()
    return a === null || typeof a === 'string' ? undefined : a
  }

  /**
   * Proxies a socket accepted elsewhere (your own `net.Server`, a socket handed over by another
   * process). It is switched to `allowHalfOpen` and, with `noDelay`, to `TCP_NODELAY`. After
   * `close()` the socket is destroyed at once.
   *
   * @example
   * ```ts
   * net.createServer({ allowHalfOpen: true }, (socket) => proxy.handle(socket)).listen(5432)
   * ```
   */
  handle(socket: net.Socket): void {
    if (!(socket instanceof net.Socket))
      throw new InvalidOptionError('socket', `expected a net.Socket, got ${describeValue(socket)}`)
    if (this.#closing !== undefined) {
      socket.destroy()
      return
    }
    socket.allowHalfOpen = true
    if (this.#hub.options.noDelay && !socket.destroyed) socket.setNoDelay(true)
    this.#hub.accept(socket)
  }

  /**
   * Connection and byte counters, in total and per backend id.
   *
   * @example
   * ```ts
   * const { active, total, backends } = proxy.stats()
   * console.log(active, total, backends.get('db-1')?.bytesOut)
   * ```
   */
  stats(): TcpProxyStats {
    return this.#hub.book.snapshot(this.#hub.live)
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closing !== undefined
  }

  /**
   * Graceful drain: stops accepting at once, lets open connections finish for up to `graceMs`,
   * then destroys those left. Resolves when every connection is gone and the server is closed.
   * Calling it again returns the same promise.
   *
   * @example
   * ```ts
   * process.on('SIGTERM', () => void proxy.close({ graceMs: 30_000 }))
   * ```
   */
  close(options?: TcpCloseOptions): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    const o = checkOptions('tcpProxy.close', options, ['graceMs'])
    const graceMs = optionalNumber('tcpProxy.close.graceMs', o.graceMs, 0, { min: 0, max: MAX_TIMER_MS })
    this.#closing = this.#drain(graceMs)
    return this.#closing
  }

  async #drain(graceMs: number): Promise<void> {
    const server = this.#server
    const serverClosed = server.listening
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : undefined
    const hub = this.#hub
    if (hub.live.size > 0) {
      let timer: NodeJS.Timeout | undefined
      await new Promise<void>((resolve) => {
        hub.onEmpty = resolve
        if (graceMs === 0) hub.destroyAll()
        else timer = setTimeout(() => hub.destroyAll(), graceMs)
      })
      clearTimeout(timer)
      hub.onEmpty = undefined
    }
    await serverClosed
  }

  /** Subscribes to an event. */
  on<E extends TcpProxyEventName>(event: E, listener: TcpProxyListener<E>): this {
    this.#hub.events.on(event, listener as never)
    return this
  }

  /** Subscribes to the next occurrence of an event. */
  once<E extends TcpProxyEventName>(event: E, listener: TcpProxyListener<E>): this {
    this.#hub.events.once(event, listener as never)
    return this
  }

  /** Unsubscribes. */
  off<E extends TcpProxyEventName>(event: E, listener: TcpProxyListener<E>): this {
    this.#hub.events.off(event, listener as never)
    return this
  }

  /** `await using proxy = createTcpProxy(lb)` closes it (no grace) at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

function isBalancer(value: unknown): value is Balancer<TcpContext> {
  const b = value as { acquire?: unknown; release?: unknown } | null
  return (
    typeof b === 'object' && b !== null && typeof b.acquire === 'function' && typeof b.release === 'function'
  )
}

/**
 * Creates a TCP proxy over one balancer: every connection is balanced over its backends.
 *
 * @param balancer picks the backend of each connection (`ctx` is a {@link TcpContext}: key =
 *   client IP by default, so `ringHash()` / `maglev()` give client-IP affinity)
 * @param options see {@link TcpProxyOptions}; throws `InvalidOptionError` (`tcpProxy.*`)
 * @example
 * ```ts
 * const lb = createBalancer().backends(['10.0.0.1:5432', '10.0.0.2:5432']).strategy(leastConnections()).build()
 * const proxy = createTcpProxy(lb, { connectTimeoutMs: 2_000 })
 * await proxy.listen({ port: 5432 })
 * ```
 */
export function createTcpProxy(balancer: Balancer<TcpContext>, options?: TcpProxyOptions): TcpProxy
/**
 * The lower-level form: `route` chooses a balancer per connection (after the PROXY header and the
 * SNI peek), e.g. by `ctx.serverName`; `undefined` closes the connection (`'no-route'`).
 *
 * @example
 * ```ts
 * const byName = sniRouter({ 'api.example.com': apiLb, '*.example.com': webLb }, defaultLb)
 * const proxy = createTcpProxy({ sni: true, route: (ctx) => byName(ctx.serverName) })
 * ```
 */
export function createTcpProxy(options: TcpProxyOptions & { readonly route: TcpRoute }): TcpProxy
export function createTcpProxy(
  first: Balancer<TcpContext> | (TcpProxyOptions & { readonly route: TcpRoute }),
  second?: TcpProxyOptions,
): TcpProxy {
  if (isBalancer(first)) {
    const options = resolveTcpProxyOptions(second)
    if (options.route !== undefined)
      throw new InvalidOptionError('tcpProxy.route', 'give either a balancer or a route, not both')
    return new TcpProxy(new ProxyHub(options, first))
  }
  if (second !== undefined)
    throw new InvalidOptionError('tcpProxy', 'the options go first when no balancer is given')
  const options = resolveTcpProxyOptions(first)
  if (options.route === undefined)
    throw new InvalidOptionError(
      'tcpProxy.route',
      'expected a balancer as first argument, or a route function',
    )
  return new TcpProxy(new ProxyHub(options, undefined))
}

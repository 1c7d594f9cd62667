import type { Balancer, TrustList } from '@fulcrum/core'
import type { FaultHooks, TcpContext } from './types.js'

/**
 * Picks the balancer for one connection, from its context (client address, `serverName` when
 * `sni` is set, PROXY header). Return `undefined` to refuse the connection (`connection:error`
 * with reason `'no-route'`). Called once per connection, after the PROXY header and the SNI peek.
 *
 * @example
 * ```ts
 * const route: TcpRoute = (ctx) => (ctx.serverName === 'db.internal' ? dbBalancer : webBalancer)
 * ```
 */
export type TcpRoute = (ctx: TcpContext) => Balancer<TcpContext> | undefined

/** Accepting the PROXY protocol (v1 and v2) from a front load balancer. */
export interface AcceptProxyProtocolOptions {
  /**
   * Addresses allowed to send a PROXY header: IPs (`'10.0.0.5'`, `'::1'`) or CIDR subnets
   * (`'10.0.0.0/8'`). A connection from any other address is closed without reading anything
   * (reason `'untrusted'`). IPv4-mapped IPv6 peers (`::ffff:10.0.0.5`) match their IPv4 form.
   */
  readonly trusted: readonly string[]
  /** Time allowed for the whole header to arrive, in ms. @default 3_000 */
  readonly timeoutMs?: number
}

/** Peeking at the TLS ClientHello for its server name (SNI), before routing. */
export interface SniOptions {
  /** Time allowed for the ClientHello to arrive, in ms. @default 3_000 */
  readonly timeoutMs?: number
}

/**
 * Options of {@link createTcpProxy}. Every one is optional and validated when the proxy is
 * created (`InvalidOptionError` with a path such as `tcpProxy.connectTimeoutMs`).
 *
 * @example
 * ```ts
 * const proxy = createTcpProxy(lb, { connectTimeoutMs: 2_000, retries: 1, idleTimeoutMs: 300_000, sendProxyProtocol: 2 })
 * ```
 */
export interface TcpProxyOptions {
  /**
   * The lower-level form: choose a balancer per connection instead of passing one balancer (the
   * SNI router uses it). Exactly one of a balancer argument and `route` must be given. It sees
   * the final context: PROXY header applied, `serverName` peeked, `key` computed.
   */
  readonly route?: TcpRoute
  /**
   * The routing key for hashing strategies, from the connection's context; `undefined` means no
   * key. @default the client's IP address (`ctx.remoteAddress`), so hashing on client IP works
   */
  readonly key?: (ctx: TcpContext) => string | undefined
  /** Time allowed for a backend's TCP handshake, in ms; then the next backend is tried. @default 5_000 */
  readonly connectTimeoutMs?: number
  /**
   * Further backends to try when a connect fails or times out (always safe: nothing was sent).
   * Bounded by the pool: a backend is never tried twice for one connection. @default 2
   */
  readonly retries?: number
  /**
   * Close both sides when no byte flows either way for this long, in ms. 0 turns it off, so a
   * quiet connection (a database pool's idle connection) stays open as long as both peers keep it.
   * @default 0
   */
  readonly idleTimeoutMs?: number
  /** Disable Nagle's algorithm (`TCP_NODELAY`) on both sides, as L4 proxies do. @default true */
  readonly noDelay?: boolean
  /** Read a PROXY protocol header from trusted front load balancers. @default undefined (off) */
  readonly acceptProxyProtocol?: AcceptProxyProtocolOptions
  /**
   * Send a PROXY protocol header of this version to every backend, before any client byte. A
   * backend's own `meta.proxyProtocol` (`1`, `2`, or `0` / `false` for none) wins.
   * @default undefined (none)
   */
  readonly sendProxyProtocol?: 1 | 2
  /**
   * Peek at the TLS ClientHello and put its server name in `ctx.serverName` before routing; the
   * bytes are relayed untouched (TLS passthrough). `true` uses the default timeout.
   * @default false
   */
  readonly sni?: boolean | SniOptions
  /** Fault injection (a `Faults` instance): blackhole, streams in each direction, slow close. @default undefined */
  readonly faults?: FaultHooks
}

/** @internal The validated options. */
export interface ResolvedTcpProxyOptions {
  readonly route: TcpRoute | undefined
  readonly key: ((ctx: TcpContext) => string | undefined) | undefined
  readonly connectTimeoutMs: number
  readonly retries: number
  readonly idleTimeoutMs: number
  readonly noDelay: boolean
  readonly acceptProxyProtocol: { readonly trusted: TrustList; readonly timeoutMs: number } | undefined
  readonly sendProxyProtocol: 1 | 2 | undefined
  readonly sniTimeoutMs: number | undefined
  readonly faults: FaultHooks | undefined
}

import type { Backend } from '@fulcrum/core'
import type { TcpContext } from './types.js'

/**
 * Why a connection could not be relayed (`connection:error`), and then closed:
 * - `no-backend`: the balancer had no eligible backend (`NoBackendError`) or was closed.
 * - `overload`: admission control refused the connection (`OverloadError`, `FULCRUM_ERR_OVERLOAD`:
 *   a full concurrency limit or queue, or the queue timeout passed); no backend was tried.
 * - `no-route`: the `route` function returned no balancer, or `route` or `key` threw
 *   (`NoRouteError`, with what was thrown as `cause`).
 * - `connect-failed`: every attempt failed (refused, unreachable, `ConnectTimeoutError`); `error`
 *   is the last attempt's error.
 * - `untrusted`: `acceptProxyProtocol` is set and the peer is not trusted (`UntrustedPeerError`).
 * - `proxy-protocol`: the PROXY header was malformed, partial or late.
 * - `sni`: the TLS ClientHello could not be read in time.
 */
export type TcpErrorReason =
  | 'no-backend'
  | 'overload'
  | 'no-route'
  | 'connect-failed'
  | 'untrusted'
  | 'proxy-protocol'
  | 'sni'

/**
 * Why a connection ended (`connection:close`). Besides the {@link TcpErrorReason}s:
 * - `end`: both sides closed normally (released as a success).
 * - `idle`: no byte flowed either way for `idleTimeoutMs` (a success; a blackholed one: `timeout`).
 * - `client-reset`: the client reset or broke the connection; the backend's side was reset too
 *   (released as `cancelled`).
 * - `upstream-reset`: the backend reset or broke the connection after it was established; the
 *   client's side was reset after the bytes already received were flushed (released as `reset`).
 * - `client-gone`: the client left before a backend was connected (released as `cancelled`); while
 *   waiting in an admission queue, a FIN with no byte sent counts as leaving.
 * - `fault`: a fault-injection stream broke the connection (released as `reset`).
 * - `drain`: still open when `close({ graceMs })` ran out of grace (released as `cancelled`).
 */
export type TcpCloseReason =
  | TcpErrorReason
  | 'end'
  | 'idle'
  | 'client-reset'
  | 'upstream-reset'
  | 'client-gone'
  | 'fault'
  | 'drain'

/**
 * Payload of `connection:open`: a backend accepted the connection and bytes start to flow.
 *
 * @example
 * ```ts
 * proxy.on('connection:open', ({ id, ctx, backend, connectMs }) => log.debug({ id, client: ctx.remoteAddress, backend: backend.id, connectMs }))
 * ```
 */
export interface ConnectionOpenEvent {
  /** The proxy-local connection number (1, 2, …). */
  readonly id: number
  readonly ctx: TcpContext
  readonly backend: Backend
  /** Connect attempts it took (1 without failover). */
  readonly attempts: number
  /** Time the successful attempt took to connect, in ms. */
  readonly connectMs: number
  /** True when fault injection blackholes it (no backend connection is made). */
  readonly blackholed: boolean
}

/**
 * Payload of `connection:close`: fired exactly once for every connection the proxy accepted,
 * after both sockets are closed and the balancer's lease is released.
 *
 * @example
 * ```ts
 * proxy.on('connection:close', (e) => metrics.observe('tcp_bytes_out', e.bytesOut, { backend: e.backend?.id ?? 'none', reason: e.reason }))
 * ```
 */
export interface ConnectionCloseEvent {
  readonly id: number
  readonly ctx: TcpContext
  /** The backend it was relayed to (the last one tried, if it never connected), or `undefined`. */
  readonly backend: Backend | undefined
  readonly reason: TcpCloseReason
  /** Bytes from the client delivered to the backend. */
  readonly bytesIn: number
  /** Bytes from the backend delivered to the client. */
  readonly bytesOut: number
  /** From accept to close, in ms. */
  readonly durationMs: number
  /** The error behind `reason`, when there was one. */
  readonly error: unknown
}

/**
 * Payload of `connection:error`: the connection could not be relayed and is being closed (a
 * `connection:close` with the same reason follows).
 *
 * @example
 * ```ts
 * proxy.on('connection:error', ({ reason, error, attempts }) => log.warn(`${reason} after ${attempts} attempt(s)`, error))
 * ```
 */
export interface ConnectionErrorEvent {
  readonly id: number
  readonly ctx: TcpContext
  readonly reason: TcpErrorReason
  readonly error: unknown
  /** Connect attempts made (0 when none could be picked). */
  readonly attempts: number
}

/**
 * Payload of `connection:retry`: a connect attempt failed (nothing was sent yet) and the proxy fails
 * over to `next`, a backend not yet tried for this connection.
 *
 * @example
 * ```ts
 * proxy.on('connection:retry', ({ backend, next, error }) => log.info(`${backend.id} failed (${error}), trying ${next.id}`))
 * ```
 */
export interface ConnectionRetryEvent {
  readonly id: number
  readonly ctx: TcpContext
  /** The backend that failed. */
  readonly backend: Backend
  /** The backend tried next. */
  readonly next: Backend
  /** 1 for the first failed attempt. */
  readonly attempt: number
  readonly error: unknown
}

/**
 * Every event a {@link TcpProxy} emits (`noun:verb`). Payloads are only built when someone
 * listens.
 *
 * @example
 * ```ts
 * proxy.on('connection:close', ({ backend, reason, bytesIn, bytesOut, durationMs }) =>
 *   log.info({ backend: backend?.id, reason, bytesIn, bytesOut, durationMs }))
 * proxy.on('connection:error', ({ reason, error }) => log.warn({ reason, error }))
 * ```
 */
export interface TcpProxyEvents {
  'connection:open': [event: ConnectionOpenEvent]
  'connection:close': [event: ConnectionCloseEvent]
  'connection:error': [event: ConnectionErrorEvent]
  'connection:retry': [event: ConnectionRetryEvent]
  /** The listening server failed (e.g. `EMFILE` on accept). */
  'proxy:error': [error: Error]
}

/** Names of {@link TcpProxyEvents}. */
export type TcpProxyEventName = keyof TcpProxyEvents

/** The listener type of event `E`. */
export type TcpProxyListener<E extends TcpProxyEventName> = (...args: TcpProxyEvents[E]) => void

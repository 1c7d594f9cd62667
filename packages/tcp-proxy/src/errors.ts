import { FulcrumError } from '@fulcrum/core'
import type { TcpContext } from './types.js'

/** Every error code the TCP proxy itself creates (the codecs and fault injection add their own). */
export type TcpProxyErrorCode =
  | 'FULCRUM_ERR_CONNECT_TIMEOUT'
  | 'FULCRUM_ERR_NO_ROUTE'
  | 'FULCRUM_ERR_UNTRUSTED_PEER'
  | 'FULCRUM_ERR_PROXY_CLOSED'

/**
 * A backend did not complete the TCP handshake within `connectTimeoutMs`. `classifyError()` maps
 * its code to `'connect'`, so the balancer books it like a refused connection; the proxy then fails
 * over to a backend not yet tried.
 *
 * When you see it: in `connection:retry` and `connection:error` payloads (`error`).
 *
 * @example
 * ```ts
 * proxy.on('connection:retry', ({ error }) => {
 *   if (error instanceof ConnectTimeoutError) log.warn(`${error.address} did not answer in ${error.timeoutMs} ms`)
 * })
 * ```
 */
export class ConnectTimeoutError extends FulcrumError {
  /** The backend's `host:port`. */
  readonly address: string
  /** The connect timeout that passed, in milliseconds. */
  readonly timeoutMs: number
  constructor(address: string, timeoutMs: number) {
    super('FULCRUM_ERR_CONNECT_TIMEOUT', `Connecting to ${address} timed out after ${timeoutMs} ms`)
    this.name = 'ConnectTimeoutError'
    this.address = address
    this.timeoutMs = timeoutMs
  }
}

/**
 * The proxy's `route` function returned no balancer for a connection (or threw; then `cause` holds
 * what it threw). The connection is closed and `connection:error` fires with reason `'no-route'`.
 *
 * @example
 * ```ts
 * proxy.on('connection:error', ({ reason, error }) => {
 *   if (error instanceof NoRouteError) log.info(`no route for ${error.serverName ?? error.remoteAddress}`)
 * })
 * ```
 */
export class NoRouteError extends FulcrumError {
  /** The TLS server name of the connection, if it was peeked. */
  readonly serverName: string | undefined
  /** The client's address. */
  readonly remoteAddress: string
  constructor(ctx: TcpContext, options?: { cause?: unknown }) {
    super(
      'FULCRUM_ERR_NO_ROUTE',
      ctx.serverName === undefined
        ? `No route for the connection from ${ctx.remoteAddress}`
        : `No route for server name "${ctx.serverName}"`,
      options,
    )
    this.name = 'NoRouteError'
    this.serverName = ctx.serverName
    this.remoteAddress = ctx.remoteAddress
  }
}

/**
 * `acceptProxyProtocol` is set and a connection came from an address not in `trusted`: its PROXY
 * header (if any) is never read, and the connection is closed (reason `'untrusted'`).
 *
 * @example
 * ```ts
 * proxy.on('connection:error', ({ error }) => {
 *   if (error instanceof UntrustedPeerError) log.warn(`PROXY header refused from ${error.peer}`)
 * })
 * ```
 */
export class UntrustedPeerError extends FulcrumError {
  /** The peer's address as the socket reported it. */
  readonly peer: string
  constructor(peer: string) {
    super(
      'FULCRUM_ERR_UNTRUSTED_PEER',
      `Connection from ${peer}, which is not a trusted PROXY protocol sender`,
    )
    this.name = 'UntrustedPeerError'
    this.peer = peer
  }
}

/**
 * The proxy was closed: `listen()` after `close()` rejects with it.
 *
 * @example
 * ```ts
 * await proxy.close()
 * await proxy.listen(0).catch((err) => err.code) // 'FULCRUM_ERR_PROXY_CLOSED'
 * ```
 */
export class ProxyClosedError extends FulcrumError {
  constructor() {
    super('FULCRUM_ERR_PROXY_CLOSED', 'The TCP proxy is closed')
    this.name = 'ProxyClosedError'
  }
}

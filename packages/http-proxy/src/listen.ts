/**
 * `listen()`: a standalone reverse proxy in one call — a strictly configured `node:http` (or
 * `node:https`) server with the proxy's request, upgrade and connect listeners, and a graceful
 * `close()`.
 */
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import type { Balancer } from '@fulcrum/core'
import { createHttpProxy, type HttpProxy } from './http-proxy.js'
import type { HttpProxyOptions } from './options.js'

/** Options of {@link listen}: the proxy's options plus where and how to listen. */
export interface ListenOptions<Ctx> extends HttpProxyOptions<Ctx> {
  /** Port; 0 picks a free one. @default 0 */
  readonly port?: number
  /** Address to bind. @default '127.0.0.1' */
  readonly host?: string
  /** TLS termination: `node:https` server options (`key`, `cert`, `SNICallback` …). */
  readonly tls?: https.ServerOptions
  /** Extra `node:http` server options (limits such as `maxHeaderSize`, `headersTimeout`). */
  readonly server?: http.ServerOptions
}

/** A running standalone proxy. */
export interface ProxyServer {
  /** The underlying server. */
  readonly server: http.Server
  /** The proxy handler (for `close()` of upstream pools, or reuse). */
  readonly proxy: HttpProxy
  /** The bound port. */
  readonly port: number
  /** `http://host:port` (or `https://`). */
  readonly url: string
  /** Stops accepting, closes idle client connections and WebSocket tunnels, waits for requests in flight, closes the pools. */
  close(): Promise<void>
}

/**
 * Starts a standalone reverse proxy. The server refuses requests without a valid `Host`, uses
 * Node's strict HTTP parser, and keeps repeated headers apart.
 *
 * @example
 * ```ts
 * const { url, close } = await listen(lb, { port: 8080, host: '0.0.0.0' })
 * ```
 */
export async function listen<Ctx>(
  balancer: Balancer<Ctx>,
  options: ListenOptions<Ctx> = {},
): Promise<ProxyServer> {
  const { port = 0, host = '127.0.0.1', tls, server: serverOptions, ...proxyOptions } = options
  const proxy = createHttpProxy(balancer, proxyOptions as HttpProxyOptions<Ctx>)
  const base: http.ServerOptions = {
    requireHostHeader: true,
    insecureHTTPParser: false,
    joinDuplicateHeaders: false,
    keepAliveTimeout: 5_000,
    ...serverOptions,
  }
  const server = tls ? https.createServer({ ...base, ...tls }, proxy) : http.createServer(base, proxy)
  proxy.attach(server)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const bound = (server.address() as AddressInfo).port
  const shown = host.includes(':') ? `[${host}]` : host
  return {
    server,
    proxy,
    port: bound,
    url: `${tls ? 'https' : 'http'}://${shown}:${bound}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      // Tunnels never become idle: the proxy's close() ends them, then requests in flight finish.
      const pools = proxy.close()
      await closed
      await pools
    },
  }
}

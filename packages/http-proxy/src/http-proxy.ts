/**
 * `createHttpProxy()`: the reverse proxy (an RFC 9110 gateway) as a `node:http` request handler,
 * with the `upgrade` and `connect` listeners a server needs beside it.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Balancer } from '@fulcrum/core'
import { resolveConfig } from './config.js'
import { ProxyExchange } from './exchange.js'
import { ALLOW } from './local-answers.js'
import type { HttpProxyOptions } from './options.js'
import { handleUpgrade } from './upgrade.js'
import { Upstreams } from './upstreams.js'

/**
 * A reverse proxy: call it as a `(req, res)` request handler; `attach(server)` also installs the
 * `upgrade` (WebSocket) and `connect` (refused: it is not an open proxy) listeners.
 */
export interface HttpProxy {
  /** Proxies one request. */
  (req: IncomingMessage, res: ServerResponse): void
  /** The `upgrade` listener: WebSocket through the balancer; other upgrades (h2c) are served as plain HTTP/1.1. */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  /** The `connect` listener: answers 405, never tunnels. */
  readonly connect: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  /** Installs `request`-independent listeners (`upgrade`, `connect`) on `server`; returns it. */
  attach<S extends Server>(server: S): S
  /** Closes open WebSocket tunnels and the upstream connection pools (requests in flight finish first). */
  close(): Promise<void>
}

/**
 * Creates a reverse proxy in front of `balancer`'s backends: each request picks a backend, is
 * forwarded with hop-by-hop fields stripped and forwarding fields added, and its outcome is
 * reported back; safe failures are retried on backends not yet tried.
 *
 * @example
 * ```ts
 * const lb = createBalancer().backends(['http://127.0.0.1:9001', 'http://127.0.0.1:9002']).build()
 * const proxy = createHttpProxy(lb, { trustProxy: ['10.0.0.0/8'] })
 * proxy.attach(http.createServer(proxy)).listen(8080)
 * ```
 */
export function createHttpProxy<Ctx>(balancer: Balancer<Ctx>, options?: HttpProxyOptions<Ctx>): HttpProxy {
  const config = resolveConfig(balancer, options)
  const lb = balancer as unknown as Balancer<never>
  const upstreams = new Upstreams(lb, config.upstream, config)
  const core = { balancer: lb, config, upstreams, tunnels: new Set<Duplex>() }
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    new ProxyExchange(core, req, res).start()
  }
  let attached: Server | undefined
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    handleUpgrade(core, req, socket, head, attached)
  }
  const connect = (_req: IncomingMessage, socket: Duplex): void => {
    socket.on('error', () => {})
    socket.resume() // read to the client's FIN, so the connection closes when the client goes
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\nAllow: ${ALLOW}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    )
  }
  return Object.assign(handler, {
    upgrade,
    connect,
    attach<S extends Server>(server: S): S {
      attached = server
      server.on('upgrade', upgrade)
      server.on('connect', connect)
      return server
    },
    close: () => {
      for (const socket of core.tunnels) socket.destroy()
      return upstreams.close()
    },
  })
}

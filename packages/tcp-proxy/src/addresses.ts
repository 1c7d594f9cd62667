import net from 'node:net'
import { type Backend, unmapIPv4 } from '@fulcrum/core'
import type { ProxyAddresses, ProxyHeader, TcpContext } from './types.js'

/** @internal A mutable {@link TcpContext}, built once per connection with every field present. */
export type MutableTcpContext = { -readonly [K in keyof TcpContext]-?: TcpContext[K] }

/** @internal The context of a freshly accepted socket (no key, PROXY header or server name yet). */
export function contextOf(socket: net.Socket): MutableTcpContext {
  return {
    key: undefined,
    remoteAddress: unmapIPv4(socket.remoteAddress ?? ''),
    remotePort: socket.remotePort ?? 0,
    localAddress: unmapIPv4(socket.localAddress ?? ''),
    localPort: socket.localPort ?? 0,
    serverName: undefined,
    proxied: undefined,
  }
}

/**
 * @internal Applies an accepted PROXY header: its addresses replace the socket's, unless it is a
 * v2 `LOCAL` header or of family `UNKNOWN` (the front balancer's own health check).
 */
export function applyProxyHeader(ctx: MutableTcpContext, header: ProxyHeader): void {
  ctx.proxied = header
  if (header.local || header.family === 'UNKNOWN') return
  ctx.remoteAddress = unmapIPv4(header.sourceAddress)
  ctx.remotePort = header.sourcePort
  ctx.localAddress = unmapIPv4(header.destinationAddress)
  ctx.localPort = header.destinationPort
}

/**
 * @internal The addresses to announce to a backend in a PROXY header: the original client and
 * the address it connected to. `UNKNOWN` when they are not both IPv4 or both IPv6.
 */
export function proxyAddressesOf(ctx: TcpContext): ProxyAddresses {
  const src = net.isIP(ctx.remoteAddress)
  const dst = net.isIP(ctx.localAddress)
  const family = src === 4 && dst === 4 ? 'TCP4' : src === 6 && dst === 6 ? 'TCP6' : 'UNKNOWN'
  return {
    family,
    sourceAddress: ctx.remoteAddress,
    sourcePort: ctx.remotePort,
    destinationAddress: ctx.localAddress,
    destinationPort: ctx.localPort,
  }
}

/**
 * @internal The PROXY protocol version to send to `backend`: its `meta.proxyProtocol` (`1`, `2`;
 * `0` or `false` for none) wins over the proxy's default.
 */
export function proxyVersionFor(backend: Backend, fallback: 1 | 2 | undefined): 1 | 2 | undefined {
  const v = backend.meta.proxyProtocol
  if (v === 1 || v === 2) return v
  if (v === 0 || v === false) return undefined
  return fallback
}

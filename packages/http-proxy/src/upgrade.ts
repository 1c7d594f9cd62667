/**
 * The `upgrade` listener. `Upgrade: websocket` goes through the balancer to a backend and becomes
 * a relayed tunnel only if that backend answers 101. Any other upgrade (`h2c` above all — request
 * smuggling through an h2c upgrade is the classic attack) is ignored, as RFC 9110 §7.8 allows:
 * the request is served as plain HTTP/1.1 with `Upgrade` and `HTTP2-Settings` stripped.
 */
import { type IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { ProxyCore } from './exchange.js'
import { relayWebSocket } from './websocket.js'

/** @internal True when an `Upgrade` value offers the WebSocket protocol. */
export function offersWebSocket(value: string | undefined): boolean {
  if (value === undefined) return false
  for (const part of value.split(','))
    if (part.trim().toLowerCase().split('/')[0] === 'websocket') return true
  return false
}

/** @internal Handles one `upgrade` event of a server. */
export function handleUpgrade(
  core: ProxyCore,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  socket.on('error', () => {})
  if (
    core.config.websocketIdleMs !== undefined &&
    req.method === 'GET' &&
    offersWebSocket(req.headers.upgrade)
  ) {
    relayWebSocket(core, req, socket, head)
    return
  }
  // Not an upgrade we perform: answer as a plain request on this connection, then close it (the
  // HTTP parser has let go of the socket, so it cannot carry another request).
  if (
    head.length > 0 ||
    req.headers['content-length'] !== undefined ||
    req.headers['transfer-encoding'] !== undefined
  ) {
    socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
    return
  }
  const res = new ServerResponse(req)
  res.shouldKeepAlive = false
  res.assignSocket(socket as Socket)
  res.on('finish', () => {
    res.detachSocket(socket as Socket)
    socket.end()
  })
  handler(req, res)
}

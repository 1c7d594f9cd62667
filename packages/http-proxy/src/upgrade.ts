/**
 * The `upgrade` listener. `Upgrade: websocket` goes through the balancer to a backend and becomes
 * a relayed tunnel only if that backend answers 101. Any other upgrade (`h2c` above all — request
 * smuggling through an h2c upgrade is the classic attack) is ignored, as RFC 9110 §7.8 allows:
 * the request is served as plain HTTP/1.1 with `Upgrade` and `HTTP2-Settings` stripped.
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { ProxyCore } from './exchange.js'
import { offersWebSocket, relayWebSocket } from './websocket.js'

/** @internal Handles one `upgrade` event of a server. */
export function handleUpgrade(
  core: ProxyCore,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  server: Server | undefined,
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
  // Not an upgrade we perform: hand the request back to the server's HTTP parser without its
  // upgrade fields, so it is served as a plain request on a connection that stays usable.
  if (!replayWithoutUpgrade(req, socket, head, server)) socket.destroy()
}

const STRIPPED_TOKENS = new Set(['upgrade', 'http2-settings'])

/**
 * @internal Re-serialises the request head without `Upgrade`, `HTTP2-Settings` and their
 * `Connection` tokens, puts it back in front of the unread bytes and lets the server parse the
 * connection again. False when the socket's server is unknown.
 */
export function replayWithoutUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  server: Server | undefined,
): boolean {
  const srv = server ?? (socket as Socket & { server?: Server }).server
  if (srv === undefined || socket.destroyed) return false
  let text = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase()
    if (lower === 'upgrade' || lower === 'http2-settings') continue
    let value = raw[i + 1]!
    if (lower === 'connection') {
      // Keep what else it nominates (so those fields are still dropped) and `close`.
      value = value
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t.length > 0 && !STRIPPED_TOKENS.has(t.toLowerCase()))
        .join(', ')
      if (value.length === 0) continue
    }
    text += `${raw[i]}: ${value}\r\n`
  }
  text += '\r\n'
  const replay = Buffer.from(text, 'latin1')
  socket.unshift(head.length > 0 ? Buffer.concat([replay, head]) : replay)
  srv.emit('connection', socket)
  return true
}

import { applyProxyHeader } from './addresses.js'
import type { TcpConnection } from './connection.js'
import { UntrustedPeerError } from './errors.js'
import type { TcpErrorReason } from './events.js'
import { readProxyHeader } from './proxy-protocol/read.js'
import { peekServerName } from './sni/peek.js'

/**
 * @internal What a connection reads before routing, when configured: the PROXY header (only from
 * a trusted peer) and a peek at the TLS ClientHello. Both leave the client paused with every byte
 * after the header (the whole ClientHello included) still buffered. On failure the connection is
 * closed with `connection:error`; if the client went away meanwhile, nothing more happens.
 */
export async function readPreamble(c: TcpConnection): Promise<void> {
  const o = c.hub.options
  let phase: TcpErrorReason = 'proxy-protocol'
  try {
    const accept = o.acceptProxyProtocol
    if (accept !== undefined) {
      const peer = c.client.remoteAddress
      if (!accept.trusted.has(peer)) {
        c.fail('untrusted', new UntrustedPeerError(peer ?? 'unknown'))
        return
      }
      const header = await readProxyHeader(c.client, accept.timeoutMs)
      if (c.reason !== undefined) return
      applyProxyHeader(c.ctx, header)
    }
    if (o.sniTimeoutMs !== undefined) {
      phase = 'sni'
      const name = await peekServerName(c.client, o.sniTimeoutMs)
      if (c.reason !== undefined) return
      c.ctx.serverName = name
    }
  } catch (error) {
    c.fail(phase, error) // a no-op when the client already went away
    return
  }
  c.client.pause()
  c.route()
}

/**
 * WebSocket through the balancer: the handshake picks a backend like any request (health, vetoes,
 * retries of connect failures on untried backends) and is forwarded with the gateway's header
 * rules; only a `101` answer turns the two sockets into a tunnel, relayed with backpressure both
 * ways (`pipe`), with an idle timeout, and close or reset propagated to the other side. Any other
 * answer is passed to the client as a plain response, and the connection closes.
 */
import http, { type ClientRequest, type IncomingMessage, ServerResponse, STATUS_CODES } from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { BackendSet, CANCELLED } from '@fulcrum/core'
import { clientAbortedError, type ProxyError, pickError, upstreamError } from './errors.js'
import { type ProxyCore, ProxyExchange } from './exchange.js'
import { isHopByHop } from './hop-by-hop.js'
import { failureOutcome, statusOutcome } from './outcomes.js'
import { hasHost, setHost } from './request-head.js'
import { originOf } from './upstreams.js'

function rawHead(
  status: number,
  message: string | undefined,
  raw: readonly string[],
  keepUpgrade: boolean,
  cookie: string | undefined,
): string {
  let head = `HTTP/1.1 ${status} ${message || STATUS_CODES[status] || ''}\r\n`
  if (cookie !== undefined) head += `Set-Cookie: ${cookie}\r\n`
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const lower = name.toLowerCase()
    if (isHopByHop(name) && !(keepUpgrade && (lower === 'upgrade' || lower === 'connection'))) continue
    head += `${name}: ${raw[i + 1]}\r\n`
  }
  return keepUpgrade ? `${head}\r\n` : `${head}Connection: close\r\n\r\n`
}

function refuse(socket: Duplex, error: ProxyError): void {
  socket.resume()
  const body = `${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\n`
  const retry = error.retryAfterSeconds === undefined ? '' : `Retry-After: ${error.retryAfterSeconds}\r\n`
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${retry}Connection: close\r\n\r\n${body}`,
  )
}

/** Destroys `other` when `one` ends or breaks; a reset travels on as a reset where Node can send one. */
function link(one: Duplex, other: Duplex): void {
  one.on('error', () => {
    const s = other as Socket
    if (typeof s.resetAndDestroy === 'function' && !s.destroyed) s.resetAndDestroy()
    else other.destroy()
  })
  one.on('close', () => other.destroy())
}

/** @internal True when an `Upgrade` value offers the WebSocket protocol. */
export function offersWebSocket(value: string | undefined): boolean {
  if (value === undefined) return false
  for (const part of value.split(','))
    if (part.trim().toLowerCase().split('/')[0] === 'websocket') return true
  return false
}

/** @internal Relays one WebSocket upgrade. */
export function relayWebSocket(core: ProxyCore, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const { balancer, config } = core
  // The handshake runs the same phases as any request: a hook may answer it (401) through `res`.
  const res = new ServerResponse(req)
  res.shouldKeepAlive = false
  res.assignSocket(socket as Socket)
  res.on('finish', () => socket.end())
  const x = new ProxyExchange(core, req, res)
  if (!x.prepare()) {
    socket.resume() // read to the client's FIN, so the connection closes when the client goes
    return
  }
  x.detachForUpgrade()
  const headers = x.upstreamHeaders
  // Only the protocol this relay performs is offered upstream (never an `h2c` riding along).
  headers.push('connection', 'Upgrade', 'upgrade', 'websocket')
  const tried = new BackendSet()
  let upstream: ClientRequest | undefined
  let last: ProxyError | undefined
  let tunneled = false
  const fail = (error: ProxyError): void => {
    refuse(socket, error)
    x.endUpgrade(error.status, error)
  }
  socket.once('close', () => {
    if (!tunneled && upstream !== undefined && x.held) {
      balancer.release(x, CANCELLED)
      upstream.destroy()
      x.endUpgrade(0, clientAbortedError('upgrade', x.backend?.id))
    }
  })

  const attempt = (): void => {
    const failed = x.pick(tried)
    if (failed === undefined) send()
    else if (failed.code === 'FULCRUM_ERR_OVERLOAD' && last === undefined && balancer.queues) queue()
    else fail(last ?? failed)
  }

  // A handshake refused by a queueing admission plugin waits for capacity, until the client leaves.
  const queue = (): void => {
    const ac = new AbortController()
    const gone = (): void => ac.abort(clientAbortedError('upgrade', undefined))
    socket.once('close', gone)
    const settled = (err: unknown): void => {
      socket.off('close', gone)
      if (!ac.signal.aborted) {
        if (err !== undefined) fail(pickError(err))
        else {
          x.pinned = false
          send()
        }
        return
      }
      balancer.release(x, CANCELLED) // acquired just as the client left
      x.endUpgrade(0, ac.signal.reason as ProxyError)
    }
    balancer.acquireAsync(x.pickContext as never, x, tried, ac.signal).then(() => settled(undefined), settled)
  }

  const send = (): void => {
    const backend = x.backend!
    const attempts = x.countAttempt()
    if (!config.preserveHost || x.host === undefined) setHost(headers, backend.address)
    const origin = new URL(originOf(backend))
    const secure = origin.protocol === 'https:'
    const tls = typeof config.upstream.tls === 'function' ? config.upstream.tls(backend) : config.upstream.tls
    const request = (secure ? https : http).request({
      ...(secure ? (tls ?? {}) : {}),
      host: backend.host,
      port: backend.port,
      method: 'GET',
      path: x.path,
      headers,
      setHost: !hasHost(headers),
      agent: false,
      timeout: config.connectTimeoutMs + config.headersTimeoutMs,
    })
    upstream = request
    request.on('timeout', () =>
      request.destroy(Object.assign(new Error('handshake timed out'), { code: 'UND_ERR_HEADERS_TIMEOUT' })),
    )
    request.on('error', (err) => {
      if (!x.held || socket.destroyed) return
      const error = upstreamError(err, 'upgrade', backend.id)
      balancer.release(x, failureOutcome(error.failureKind))
      last = error
      if (error.failureKind === 'connect' && attempts <= config.retries) {
        tried.add(backend)
        attempt()
      } else fail(error)
    })
    const cookie = config.sticky !== undefined && !x.pinned ? config.sticky.setCookie(backend) : undefined
    request.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 502
      balancer.release(x, statusOutcome(status, status < 500))
      socket.write(rawHead(status, res.statusMessage, res.rawHeaders, false, cookie))
      res.pipe(socket)
      res.on('error', () => socket.destroy())
      socket.once('close', () => x.endUpgrade(status, undefined))
    })
    request.on('upgrade', (res: IncomingMessage, up: Socket, upHead: Buffer) => {
      if (!offersWebSocket(res.headers.upgrade)) {
        // A 101 to some other protocol is not what was asked for: never tunnel it.
        up.destroy()
        const error = upstreamError(new Error('bad upgrade'), 'upgrade', backend.id)
        balancer.release(x, failureOutcome(error.failureKind))
        fail(error)
        return
      }
      tunneled = true
      const handshakeMs = balancer.clock.now() - x.startedAt
      socket.write(rawHead(101, res.statusMessage, res.rawHeaders, true, cookie))
      if (upHead.length > 0) socket.write(upHead)
      if (head.length > 0) up.write(head)
      const idle = config.websocketIdleMs!
      up.setTimeout(idle, () => up.destroy())
      ;(socket as Socket).setTimeout?.(idle, () => socket.destroy())
      link(socket, up)
      link(up, socket)
      core.tunnels.add(socket)
      socket.once('close', () => core.tunnels.delete(socket))
      up.once('close', () => {
        balancer.release(x, { ok: true, status: 101, latencyMs: handshakeMs })
        x.endUpgrade(101, undefined)
      })
      socket.pipe(up)
      up.pipe(socket)
    })
    request.end()
  }
  attempt()
}

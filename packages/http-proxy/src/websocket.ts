/**
 * WebSocket through the balancer: the handshake picks a backend like any request (health, vetoes,
 * retries of connect failures on untried backends) and is forwarded with the gateway's header
 * rules; only a `101` answer turns the two sockets into a tunnel, relayed with backpressure both
 * ways (`pipe`), with an idle timeout, and close or reset propagated to the other side. Any other
 * answer is passed to the client as a plain response, and the connection closes.
 */
import http, { type ClientRequest, type IncomingMessage, STATUS_CODES } from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { BackendSet, CANCELLED, type LeaseSlot, unmapIPv4 } from '@fulcrum/core'
import { noBackendError, type ProxyError, upstreamError } from './errors.js'
import type { ProxyCore } from './exchange.js'
import { clientAddressOf } from './forwarded.js'
import { isHopByHop } from './hop-by-hop.js'
import { failureOutcome, statusOutcome } from './outcomes.js'
import { buildRequestHead, type RequestFacts } from './request-head.js'
import { parseTarget } from './request-target.js'
import { originOf } from './upstreams.js'

function rawHead(
  status: number,
  message: string | undefined,
  raw: readonly string[],
  keepUpgrade: boolean,
): string {
  let head = `HTTP/1.1 ${status} ${message || STATUS_CODES[status] || ''}\r\n`
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

/** @internal Relays one WebSocket upgrade. */
export function relayWebSocket(core: ProxyCore, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const { balancer, config } = core
  const peer = unmapIPv4(req.socket.remoteAddress ?? '')
  const target = parseTarget(req.url ?? '/')
  const facts: RequestFacts = {
    upstreamHeaders: [],
    hostIndex: -1,
    host: undefined,
    contentLength: -1,
    chunked: false,
    maxForwards: -1,
    cookie: undefined,
  }
  const bad =
    target === undefined
      ? 'Invalid request target'
      : buildRequestHead(req, config, target.authority, peer, facts)
  if (bad !== undefined) {
    socket.resume()
    socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
    return
  }
  const headers = facts.upstreamHeaders
  headers.push('connection', 'Upgrade', 'upgrade', req.headers.upgrade ?? 'websocket')
  const remoteAddress = clientAddressOf(peer, req.headers['x-forwarded-for'], config.trust)
  const ctx = {
    key: undefined,
    headers: req.headers,
    url: req.url ?? '/',
    remoteAddress,
    peerAddress: peer,
    req,
  }
  const slot: LeaseSlot = { backend: undefined, startedAt: 0, held: false }
  const tried = new BackendSet()
  let upstream: ClientRequest | undefined
  let attempts = 0
  let last: ProxyError | undefined
  let tunneled = false
  socket.once('close', () => {
    if (!tunneled && upstream !== undefined && slot.held) {
      balancer.release(slot, CANCELLED)
      upstream.destroy()
    }
  })

  const attempt = (): void => {
    try {
      balancer.acquire(ctx as never, slot, tried)
    } catch (err) {
      refuse(socket, last ?? noBackendError(err, 1))
      return
    }
    const backend = slot.backend!
    attempts++
    if (!config.preserveHost && facts.hostIndex >= 0) headers[facts.hostIndex] = backend.address
    const origin = new URL(originOf(backend))
    const secure = origin.protocol === 'https:'
    const tls = typeof config.upstream.tls === 'function' ? config.upstream.tls(backend) : config.upstream.tls
    const request = (secure ? https : http).request({
      ...(secure ? (tls ?? {}) : {}),
      host: backend.host,
      port: backend.port,
      method: 'GET',
      path: target!.path,
      headers,
      setHost: facts.hostIndex < 0,
      agent: false,
      timeout: config.connectTimeoutMs + config.headersTimeoutMs,
    })
    upstream = request
    request.on('timeout', () =>
      request.destroy(Object.assign(new Error('handshake timed out'), { code: 'UND_ERR_HEADERS_TIMEOUT' })),
    )
    request.on('error', (err) => {
      if (!slot.held || socket.destroyed) return
      const error = upstreamError(err, 'upgrade', backend.id)
      balancer.release(slot, failureOutcome(error.failureKind))
      last = error
      if (error.failureKind === 'connect' && attempts <= config.retries) {
        tried.add(backend)
        attempt()
      } else refuse(socket, error)
    })
    request.on('response', (res: IncomingMessage) => {
      balancer.release(slot, statusOutcome(res.statusCode ?? 502, (res.statusCode ?? 502) < 500))
      socket.write(rawHead(res.statusCode ?? 502, res.statusMessage, res.rawHeaders, false))
      res.pipe(socket)
      res.on('error', () => socket.destroy())
    })
    request.on('upgrade', (res: IncomingMessage, up: Socket, upHead: Buffer) => {
      tunneled = true
      const handshakeMs = balancer.clock.now() - slot.startedAt
      socket.write(rawHead(101, res.statusMessage, res.rawHeaders, true))
      if (upHead.length > 0) socket.write(upHead)
      if (head.length > 0) up.write(head)
      const idle = config.websocketIdleMs!
      up.setTimeout(idle, () => up.destroy())
      ;(socket as Socket).setTimeout?.(idle, () => socket.destroy())
      link(socket, up)
      link(up, socket)
      up.once('close', () => balancer.release(slot, { ok: true, status: 101, latencyMs: handshakeMs }))
      socket.pipe(up)
      up.pipe(socket)
    })
    request.end()
  }
  attempt()
}

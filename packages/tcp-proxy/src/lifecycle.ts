/**
 * @internal The lifecycle listeners of a connection's sockets (errors, closes, the upstream's
 * connect and connect timeout) and the upstream dial. Like the relay's, they are module-level
 * functions that find their connection through the socket's `kConn` property.
 */
import net from 'node:net'
import type { Backend } from '@fulcrum/core'
import type { TcpConnection } from './connection.js'
import { BLACKHOLE, CONNECTING, OPEN } from './connection-state.js'
import { ConnectTimeoutError } from './errors.js'
import {
  forgetLastRead,
  kConn,
  relayDown,
  relayUp,
  type Tagged,
  upstreamOnRead,
  upstreamReadBuffer,
} from './relay.js'
import { resetWhenFlushed } from './reset.js'

function connOf(socket: net.Socket): TcpConnection {
  return (socket as Tagged)[kConn]!
}

/**
 * @internal The client failed (reset, broken pipe). Established: what it sent before still goes to
 * the backend, then the backend is reset too. Before that: the client is gone. Never held against
 * the backend (`cancelled`).
 */
export function clientOnError(this: net.Socket, error: Error): void {
  const c = connOf(this)
  if (c.state === OPEN) {
    c.setCause('client-reset', 'cancelled', error)
    for (let chunk = this.read(); chunk !== null; chunk = this.read()) relayUp(c, chunk)
    c.wrapUp?.destroy()
    if (!c.upstreamClosed) resetWhenFlushed(c.upstream!)
  } else {
    c.setCause(c.state === BLACKHOLE ? 'client-reset' : 'client-gone', 'cancelled', error)
  }
}

/** @internal The client socket closed (normally, or after an error or a destroy). */
export function clientOnClose(this: net.Socket): void {
  connOf(this).clientClose()
}

function upstreamOnConnect(this: net.Socket): void {
  const c = connOf(this)
  if (c.upstream === this) c.upstreamConnected()
}

function upstreamOnTimeout(this: net.Socket): void {
  const c = connOf(this)
  if (c.upstream !== this || c.state !== CONNECTING) return
  c.lastError = new ConnectTimeoutError(c.backend!.address, c.hub.options.connectTimeoutMs)
  this.destroy()
}

/**
 * While connecting, an error fails the attempt (its `'close'` follows). Established: the backend
 * reset the connection; the bytes it sent before (some may still sit in the paused socket's buffer)
 * are relayed, then the client is reset once they are flushed.
 */
function upstreamOnError(this: net.Socket, error: Error): void {
  const c = connOf(this)
  if (c.upstream !== this) return
  if (c.state === CONNECTING) {
    c.lastError = error
    return
  }
  c.setCause('upstream-reset', 'reset', error)
  for (let chunk = this.read(); chunk !== null; chunk = this.read()) relayDown(c, chunk)
  c.client.pause()
  c.wrapDown?.destroy()
  resetWhenFlushed(c.client)
}

function upstreamOnClose(this: net.Socket): void {
  const c = connOf(this)
  if (c.upstream === this) c.upstreamClose()
}

/**
 * @internal Opens the upstream connection of an attempt, with its connect timeout. Without fault
 * hooks (which wrap the downstream direction in a stream) it reads into reused buffers (`onread`).
 */
export function dial(c: TcpConnection, backend: Backend): Tagged {
  const o = c.hub.options
  c.reusedReads = o.faults === undefined
  if (c.reusedReads) forgetLastRead()
  const up = net.connect({
    host: backend.host,
    port: backend.port,
    allowHalfOpen: true,
    noDelay: o.noDelay,
    ...(c.reusedReads && { onread: { buffer: upstreamReadBuffer, callback: upstreamOnRead } }),
  }) as Tagged
  up[kConn] = c
  up.setTimeout(o.connectTimeoutMs)
  up.on('connect', upstreamOnConnect)
  up.on('timeout', upstreamOnTimeout)
  up.on('error', upstreamOnError)
  up.on('close', upstreamOnClose)
  return up
}

/** @internal `setTimeout` target: the delayed FIN towards the backend. */
export function endUpstreamLater(c: TcpConnection): void {
  c.upEndTimer = undefined
  c.endNow('upstream')
}

/** @internal `setTimeout` target: the delayed FIN towards the client. */
export function endClientLater(c: TcpConnection): void {
  c.downEndTimer = undefined
  c.endNow('downstream')
}

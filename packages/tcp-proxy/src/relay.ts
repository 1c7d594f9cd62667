/**
 * @internal The relay's event listeners. They are module-level functions, shared by every
 * connection: each finds its connection through a symbol-keyed property of the stream it listens
 * on (`this`), as Node's own http server does, so a connection allocates no closures. Data moves
 * with pipe semantics: a `write()` that returns false pauses the source until the destination's
 * `'drain'`.
 *
 * Without fault hooks the backend's socket reads into a buffer of its own that is reused from one
 * read to the next (`net.connect({ onread })`, see `upstreamOnRead`), instead of a freshly
 * allocated 64 KiB buffer per read and the Readable machinery; the client socket cannot (a
 * `net.Server` gives accepted sockets no `onread` in Node 20) and keeps `'data'`.
 */
import type net from 'node:net'
import type { Duplex } from 'node:stream'
import type { TcpConnection } from './connection.js'
import { OPEN } from './connection-state.js'
import { resetWhenFlushed } from './reset.js'

/** @internal The property holding a stream's connection. */
export const kConn: unique symbol = Symbol('fulcrum.tcpConnection')

/** @internal A socket or fault stream tagged with its connection. */
export type Tagged<S extends Duplex = net.Socket> = S & { [kConn]?: TcpConnection }

function connOf(stream: Duplex): TcpConnection {
  return (stream as Tagged<Duplex>)[kConn]!
}

// ── client → (wrapUp →) upstream ────────────────────────────────────────────────────────────────

function clientOnData(this: net.Socket, chunk: Buffer): void {
  const c = connOf(this)
  const w = c.wrapUp
  if (w !== undefined) {
    if (!w.write(chunk)) this.pause()
    return
  }
  c.bytesIn += chunk.length
  if (!c.upstream!.write(chunk)) this.pause()
}

function wrapUpOnData(this: Duplex, chunk: Buffer): void {
  const c = connOf(this)
  c.bytesIn += chunk.length
  if (!c.upstream!.write(chunk)) this.pause()
}

function upstreamOnDrain(this: net.Socket): void {
  const c = connOf(this)
  ;(c.wrapUp ?? c.client).resume()
}

function wrapUpOnDrain(this: Duplex): void {
  connOf(this).client.resume()
}

/**
 * Attached from the start: with nothing buffered, a FIN emits `'end'` even on a paused socket, so
 * a client that half-closes while the proxy is still connecting must not be missed.
 */
export function clientOnEnd(this: net.Socket): void {
  const c = connOf(this)
  c.clientEnded = true
  c.clientEnd()
}

/** @internal Forwards the client's FIN into the upstream direction. */
export function endUpstreamSide(c: TcpConnection): void {
  if (c.wrapUp !== undefined) c.wrapUp.end()
  else c.forwardEnd('upstream')
}

function wrapUpOnEnd(this: Duplex): void {
  connOf(this).forwardEnd('upstream')
}

// ── upstream → (wrapDown →) client ──────────────────────────────────────────────────────────────

function upstreamOnData(this: net.Socket, chunk: Buffer): void {
  const c = connOf(this)
  const w = c.wrapDown
  if (w !== undefined) {
    if (!w.write(chunk)) this.pause()
    return
  }
  c.bytesOut += chunk.length
  if (!c.client.write(chunk)) this.pause()
}

/** @internal Size of an upstream socket's reused read buffer (Node's own read size). */
export const READ_BUFFER_SIZE = 64 * 1024

/**
 * Every upstream socket's first read goes here (its own buffer is allocated on that first read, so
 * idle connections hold none). Shared by all sockets, so what is read into it is always copied.
 */
const FIRST_READ = Buffer.allocUnsafeSlow(READ_BUFFER_SIZE)

/** The connection whose upstream socket read last, until its next buffer is handed out. */
let lastRead: TcpConnection | undefined

/**
 * @internal `onread.buffer` of an upstream socket: where its next read goes. Node calls it without
 * a `this`, once when the socket gets its handle (inside `net.connect()`, see `dial`) and then right
 * after each `onread.callback`, which notes its connection in `lastRead`.
 */
export function upstreamReadBuffer(): Buffer {
  const c = lastRead
  lastRead = undefined
  return c?.downBuffer ?? FIRST_READ
}

/** @internal Before a socket is created: its first `upstreamReadBuffer()` call is not after a read. */
export function forgetLastRead(): void {
  lastRead = undefined
}

/**
 * @internal `onread.callback` of an upstream socket: `n` bytes arrived in `buf`, which the next read
 * overwrites. They are written to the client as a view of `buf` when that write completes
 * synchronously (the usual case: the kernel took them all, nothing stays referenced); a write that
 * is still pending (or queued behind one) keeps referencing `buf`, so the socket gets a fresh
 * buffer for its next read and the old one is left to that write. Returning false stops reading
 * (the client's `'drain'` resumes it). Bytes that arrive before the relay is open are dropped: the
 * connection is going away (the client left, the PROXY header failed), as `'connect'` opens it.
 */
export function upstreamOnRead(this: net.Socket, n: number, buf: Buffer): boolean {
  const c = connOf(this)
  lastRead = c
  if (c.state !== OPEN) return false
  c.bytesOut += n
  const client = c.client
  if (buf === FIRST_READ) {
    c.downBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_SIZE)
    return client.write(Buffer.from(buf.subarray(0, n)))
  }
  const ok = client.write(buf.subarray(0, n))
  if (client.writableLength !== 0) c.downBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_SIZE)
  return ok
}

function wrapDownOnData(this: Duplex, chunk: Buffer): void {
  const c = connOf(this)
  c.bytesOut += chunk.length
  if (!c.client.write(chunk)) this.pause()
}

function clientOnDrain(this: net.Socket): void {
  const c = connOf(this)
  ;(c.wrapDown ?? c.upstream!).resume()
}

function wrapDownOnDrain(this: Duplex): void {
  connOf(this).upstream!.resume()
}

function upstreamOnEnd(this: net.Socket): void {
  const c = connOf(this)
  c.upstreamEnded = true
  if (c.wrapDown !== undefined) c.wrapDown.end()
  else c.forwardEnd('downstream')
}

function wrapDownOnEnd(this: Duplex): void {
  connOf(this).forwardEnd('downstream')
}

/** A fault stream broke (a reset-after budget ran out): both sides are reset once flushed. */
function wrapOnError(this: Duplex, error: Error): void {
  const c = connOf(this)
  c.setCause('fault', 'reset', error)
  resetWhenFlushed(c.client)
  if (!c.upstreamClosed) resetWhenFlushed(c.upstream!)
}

function onIdleTimeout(this: net.Socket): void {
  connOf(this).idle()
}

function discard(): void {}

/** @internal Wires both directions of an established connection; the client stays paused. */
export function attachRelay(c: TcpConnection): void {
  const client = c.client
  const upstream = c.upstream!
  client.on('data', clientOnData)
  client.on('drain', clientOnDrain)
  if (!c.reusedReads) upstream.on('data', upstreamOnData)
  upstream.on('end', upstreamOnEnd)
  upstream.on('drain', upstreamOnDrain)
  if (c.wrapUp !== undefined) attachWrap(c, c.wrapUp, wrapUpOnData, wrapUpOnEnd, wrapUpOnDrain)
  if (c.wrapDown !== undefined) attachWrap(c, c.wrapDown, wrapDownOnData, wrapDownOnEnd, wrapDownOnDrain)
}

/** Tags a fault stream with its connection and attaches that direction's shared listeners. */
function attachWrap(
  c: TcpConnection,
  stream: Duplex,
  onData: (this: Duplex, chunk: Buffer) => void,
  onEnd: (this: Duplex) => void,
  onDrain: (this: Duplex) => void,
): void {
  ;(stream as Tagged<Duplex>)[kConn] = c
  stream.on('data', onData)
  stream.on('end', onEnd)
  stream.on('drain', onDrain)
  stream.on('error', wrapOnError)
}

/** @internal Reads and discards what a blackholed client sends. */
export function attachBlackhole(c: TcpConnection): void {
  c.client.on('data', discard)
}

/** @internal Arms the idle timeout on `socket` (refreshed by every read and write on it). */
export function armIdle(socket: net.Socket, ms: number): void {
  socket.setTimeout(ms)
  socket.on('timeout', onIdleTimeout)
}

/**
 * @internal Relays one chunk from the backend outside the `'data'` path (the bytes still buffered
 * when the backend failed), ignoring backpressure: they are at most one read buffer.
 */
export function relayDown(c: TcpConnection, chunk: Buffer): void {
  const w = c.wrapDown
  if (w !== undefined) {
    if (!w.writableEnded && !w.destroyed) w.write(chunk)
  } else if (!c.client.writableEnded && !c.client.destroyed) {
    c.bytesOut += chunk.length
    c.client.write(chunk)
  }
}

/** @internal Likewise from the client, when the client failed. */
export function relayUp(c: TcpConnection, chunk: Buffer): void {
  const w = c.wrapUp
  const up = c.upstream!
  if (w !== undefined) {
    if (!w.writableEnded && !w.destroyed) w.write(chunk)
  } else if (!up.writableEnded && !up.destroyed) {
    c.bytesIn += chunk.length
    up.write(chunk)
  }
}

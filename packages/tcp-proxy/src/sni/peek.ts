import type * as net from 'node:net'
import { checkNumber } from '@fulcrum/core'
import { INCOMPLETE, MAX_CLIENT_HELLO_BYTES, parseClientHelloServerName } from './client-hello.js'
import { SniError } from './errors.js'

/** Largest delay `setTimeout` honours (longer ones fire at once). */
const MAX_TIMEOUT_MS = 2_147_483_647

/**
 * Reads a TLS ClientHello from an accepted socket and returns the server name (SNI) it asks for,
 * consuming nothing: every byte read is put back with `socket.unshift()`, so the relay that pipes
 * the socket afterwards forwards the ClientHello untouched (TLS passthrough). Use it before routing
 * by name; for TLS termination use `tlsTerminator()` instead (it learns the name from the
 * handshake).
 *
 * When the promise settles, the listeners it added (`data`, `end`, `close`, `error`) are removed,
 * its timer is cleared and the socket is left **paused** with the bytes read at the front of its
 * buffer — `pipe()` or `resume()` it to continue. Keep your own `error` listener on the socket: this
 * function's is gone once it settles. Bytes are put back on rejection too, unless the socket has
 * ended or been destroyed.
 *
 * - resolves to the lower-cased server name, or `undefined` when the ClientHello has no SNI;
 * - rejects with {@link SniError}: `not-tls`, `malformed`, `too-large` or `invalid-name` (as
 *   `parseClientHelloServerName()`), `timeout` when no complete ClientHello arrived within
 *   `timeoutMs`, `closed` when the socket ended, closed or failed first (`cause` is the socket's
 *   error, if any).
 *
 * At most {@link MAX_CLIENT_HELLO_BYTES} bytes are buffered for the ClientHello (more may be held
 * when one read returns the ClientHello and further data together).
 *
 * @param socket an accepted socket from which nothing has been read yet.
 * @param timeoutMs how long the whole ClientHello may take, in ms: > 0, at most 2^31 − 1 (throws
 *   `InvalidOptionError` otherwise).
 * @example
 * ```ts
 * server.on('connection', async (socket) => {
 *   socket.on('error', () => socket.destroy())
 *   try {
 *     const serverName = await peekServerName(socket, 5_000)
 *     const backend = connectTo(route(serverName))
 *     socket.pipe(backend).pipe(socket) // the ClientHello goes first, unchanged
 *   } catch {
 *     socket.destroy()
 *   }
 * })
 * ```
 */
export function peekServerName(socket: net.Socket, timeoutMs: number): Promise<string | undefined> {
  checkNumber('timeoutMs', timeoutMs, { min: 0, minExclusive: true, max: MAX_TIMEOUT_MS })
  return new Promise((resolve, reject) => {
    let acc: Buffer | undefined // all bytes read so far are acc[0, total)
    let total = 0
    let settled = false

    const settle = (error: SniError | undefined, name?: string): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('close', onClose)
      socket.off('error', onError)
      socket.pause()
      if (acc !== undefined && total > 0 && !socket.destroyed && !socket.readableEnded)
        socket.unshift(total === acc.length ? acc : acc.subarray(0, total))
      if (error === undefined) resolve(name)
      else reject(error)
    }

    const onData = (chunk: Buffer): void => {
      if (acc === undefined) acc = chunk
      else {
        if (total + chunk.length > acc.length) {
          // Grow geometrically: a peer sending one byte at a time costs O(n) copying, not O(n²).
          const grown = Buffer.allocUnsafe(
            Math.max(total + chunk.length, Math.min(2 * acc.length, MAX_CLIENT_HELLO_BYTES)),
          )
          acc.copy(grown, 0, 0, total)
          acc = grown
        }
        chunk.copy(acc, total)
      }
      total += chunk.length
      let result: ReturnType<typeof parseClientHelloServerName>
      try {
        result = parseClientHelloServerName(total === acc.length ? acc : acc.subarray(0, total))
      } catch (err) {
        settle(err instanceof SniError ? err : new SniError('malformed', String(err), { cause: err }))
        return
      }
      if (result !== INCOMPLETE) settle(undefined, result)
    }
    const onEnd = (): void => settle(new SniError('closed', `the client ended after ${total} bytes`))
    const onClose = (): void => settle(new SniError('closed', `the socket closed after ${total} bytes`))
    const onError = (err: Error): void =>
      settle(new SniError('closed', `the socket failed after ${total} bytes: ${err.message}`, { cause: err }))
    const onTimeout = (): void =>
      settle(new SniError('timeout', `no complete ClientHello within ${timeoutMs} ms (${total} bytes)`))

    const timer = setTimeout(onTimeout, timeoutMs)
    if (socket.destroyed || socket.readableEnded) {
      settle(new SniError('closed', 'the socket is already closed'))
      return
    }
    socket.on('data', onData)
    socket.on('end', onEnd)
    socket.on('close', onClose)
    socket.on('error', onError)
    socket.resume()
  })
}

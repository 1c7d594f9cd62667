import type * as net from 'node:net'
import type { ProxyHeader } from '../types.js'
import { ProxyProtocolError } from './errors.js'
import { parseProxyHeader } from './parse.js'

/** setTimeout fires at once for delays above this (2^31 − 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647

/**
 * Reads a PROXY protocol header (v1 or v2, see `parseProxyHeader`) from the start of an accepted
 * connection, before anything else reads from it.
 *
 * It listens for `'data'`, feeding everything received to `parseProxyHeader` until the header is
 * complete. Then it pauses the socket, removes every listener it added, clears its timer, puts the
 * bytes that followed the header back at the front of the socket's buffer (`socket.unshift()`) and
 * resolves: the next reader sees the application's data from its first byte, nothing lost. The
 * socket is left **paused** — `pipe()` resumes it; after `socket.on('data', …)` call
 * `socket.resume()`.
 *
 * It rejects with {@link ProxyProtocolError} — after the same clean-up, with the socket paused —
 * when the bytes are not a valid header (the parser's reason), when the socket ends, closes or
 * fails before a complete header (`partial-header`, the socket error as `cause`), or when
 * `timeoutMs` passes first (`timeout`). It never destroys the socket: on rejection the caller must.
 * Because its own `'error'` listener is removed when it settles, the caller should keep an
 * `'error'` listener of its own on the socket.
 *
 * Preconditions: nothing else consumes the socket's data meanwhile, and no encoding is set on it
 * (the header is binary; a `TypeError` rejection otherwise).
 *
 * @param socket a freshly accepted connection from a trusted front load balancer.
 * @param timeoutMs how long to wait for the complete header, in milliseconds (`Infinity` for no
 *   limit; must be positive).
 * @returns the parsed header.
 *
 * @example
 * ```ts
 * const server = net.createServer(async (client) => {
 *   client.on('error', () => client.destroy())
 *   let proxied: ProxyHeader
 *   try {
 *     proxied = await readProxyHeader(client, 3_000)
 *   } catch {
 *     client.destroy()
 *     return
 *   }
 *   const backend = net.connect(port, host)
 *   client.pipe(backend) // resumes the client: its first bytes after the header come first
 * })
 * ```
 */
export function readProxyHeader(socket: net.Socket, timeoutMs: number): Promise<ProxyHeader> {
  return new Promise<ProxyHeader>((resolve, reject) => {
    if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs <= 0) {
      reject(new RangeError(`readProxyHeader: timeoutMs must be a positive number, got ${String(timeoutMs)}`))
      return
    }
    if (socket.readableEncoding !== null) {
      reject(
        new TypeError(
          `readProxyHeader: the socket has encoding ${socket.readableEncoding} set; it must be binary`,
        ),
      )
      return
    }
    if (socket.destroyed || socket.readableEnded) {
      reject(new ProxyProtocolError('partial-header', 'the socket was already closed'))
      return
    }

    let received: Buffer = Buffer.alloc(0)
    let timer: NodeJS.Timeout | undefined

    const cleanUp = (): void => {
      socket.pause()
      socket.removeListener('data', onData)
      socket.removeListener('end', onEnd)
      socket.removeListener('close', onClose)
      socket.removeListener('error', onError)
      if (timer !== undefined) clearTimeout(timer)
    }
    const fail = (error: Error): void => {
      cleanUp()
      reject(error)
    }
    const partial = (what: string, cause?: unknown): void => {
      const detail = `${what} after ${received.length} byte(s), before a complete header`
      fail(new ProxyProtocolError('partial-header', detail, cause === undefined ? undefined : { cause }))
    }

    function onData(chunk: Buffer | string): void {
      if (typeof chunk === 'string') {
        fail(new TypeError('readProxyHeader: the socket delivered a string; it must be binary'))
        return
      }
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk])
      let result: ReturnType<typeof parseProxyHeader>
      try {
        result = parseProxyHeader(received)
      } catch (error) {
        fail(error as Error)
        return
      }
      if (result === 'incomplete') return
      cleanUp()
      if (received.length > result.length) socket.unshift(received.subarray(result.length))
      resolve(result.header)
    }
    function onEnd(): void {
      partial('the socket ended')
    }
    function onClose(): void {
      partial('the socket closed')
    }
    function onError(error: Error): void {
      partial(`the socket failed (${error.message})`, error)
    }

    socket.on('data', onData)
    socket.on('end', onEnd)
    socket.on('close', onClose)
    socket.on('error', onError)
    if (timeoutMs !== Number.POSITIVE_INFINITY) {
      timer = setTimeout(
        () => {
          fail(new ProxyProtocolError('timeout', `no complete header within ${timeoutMs} ms`))
        },
        Math.min(timeoutMs, MAX_TIMER_MS),
      )
      timer.unref()
    }
    // In case the socket was paused explicitly before: attaching 'data' does not resume it then.
    socket.resume()
  })
}

import type { Direction } from '../types.js'

/**
 * The error a fault stream is destroyed with when a {@link resetAfter} toxic runs out: it carries
 * `code: 'ECONNRESET'` like a real reset, so code that handles socket errors handles it too. A
 * proxy that sees it on a stream from {@link Faults.wrap} resets both sockets
 * (`socket.resetAndDestroy()`), so the peers see a TCP RST.
 *
 * Use {@link isFaultReset} to tell an injected reset from a real one, e.g. in a proxy's error
 * handler or in a test's assertions.
 *
 * @example
 * ```ts
 * wrapped.on('error', (err) => {
 *   if (isFaultReset(err)) { client.resetAndDestroy(); upstream.resetAndDestroy() }
 * })
 * ```
 */
export class FaultResetError extends Error {
  /** Always `'ECONNRESET'`. */
  readonly code = 'ECONNRESET'
  /** The direction whose byte budget ran out. */
  readonly direction: Direction
  /** The id of the connection's backend. */
  readonly backendId: string
  /** Bytes the stream forwarded before the reset, over its whole life. */
  readonly bytes: number

  constructor(direction: Direction, backendId: string, bytes: number) {
    super(`Connection reset by fault injection (${direction}, backend ${backendId}, after ${bytes} bytes)`)
    this.name = 'FaultResetError'
    this.direction = direction
    this.backendId = backendId
    this.bytes = bytes
  }
}

/**
 * True when `err` is a {@link FaultResetError}, i.e. a reset injected by a {@link resetAfter} toxic.
 *
 * @example
 * ```ts
 * socketOrStream.on('error', (err) => { if (!isFaultReset(err)) log.warn(err) })
 * ```
 */
export function isFaultReset(err: unknown): err is FaultResetError {
  return err instanceof FaultResetError
}

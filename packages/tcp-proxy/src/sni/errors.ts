import { FulcrumError } from '@fulcrum/core'

/**
 * Why a TLS ClientHello could not be read. A stable, machine-readable string; the error's
 * `message` carries the human-readable detail.
 *
 * | reason | raised when |
 * |---|---|
 * | `not-tls` | the first record is not a TLS handshake record (first byte not 22, or record version not 3.x), e.g. plain HTTP or an SSLv2 hello |
 * | `malformed` | a record, handshake or extension length is inconsistent, a field is out of range, a non-handshake record interrupts the ClientHello, the first handshake message is not a ClientHello, or `server_name` appears twice |
 * | `too-large` | the ClientHello (with its record headers) would need more than `MAX_CLIENT_HELLO_BYTES` (16 KiB + 5) bytes of the stream |
 * | `invalid-name` | the `host_name` is not a valid DNS host name (LDH labels of 1–63 bytes, at most 253 bytes, no trailing dot, not an IP literal) |
 * | `timeout` | `peekServerName()`: no complete ClientHello arrived within the allowed time |
 * | `closed` | `peekServerName()`: the socket ended, closed or failed before a complete ClientHello arrived (`cause` holds the socket's error, if any) |
 *
 * Use it to tell a peer's fault (`not-tls`, `malformed`, `invalid-name`) from a slow or vanished
 * one (`timeout`, `closed`) in logs and metrics.
 *
 * @example
 * ```ts
 * if (err instanceof SniError && err.reason === 'not-tls') metrics.increment('sni.not_tls')
 * ```
 */
export type SniErrorReason = 'not-tls' | 'malformed' | 'too-large' | 'invalid-name' | 'timeout' | 'closed'

/**
 * A TLS ClientHello is not TLS, malformed, too large, names an invalid host, or did not arrive in
 * time. `reason` says which (see {@link SniErrorReason}); the code is always
 * `FULCRUM_ERR_TLS_CLIENT_HELLO`. A proxy should close the connection on this error (it cannot be
 * routed by name); it may instead forward it to a default route when it accepts non-TLS traffic.
 *
 * @example
 * ```ts
 * try {
 *   const name = await peekServerName(socket, 5_000)
 * } catch (err) {
 *   if (err instanceof SniError) log.warn(`dropping connection: ${err.reason}`)
 *   socket.destroy()
 * }
 * ```
 */
export class SniError extends FulcrumError {
  /** Why the ClientHello was rejected, e.g. `'not-tls'` or `'timeout'`. */
  readonly reason: SniErrorReason

  /**
   * @param reason the machine-readable cause.
   * @param detail a human-readable explanation, appended to the message.
   * @param options `cause`: the underlying error (e.g. the socket's), if any.
   */
  constructor(reason: SniErrorReason, detail?: string, options?: { cause?: unknown }) {
    super(
      'FULCRUM_ERR_TLS_CLIENT_HELLO',
      detail === undefined ? `TLS ClientHello: ${reason}` : `TLS ClientHello: ${reason}: ${detail}`,
      options,
    )
    this.name = 'SniError'
    this.reason = reason
  }
}

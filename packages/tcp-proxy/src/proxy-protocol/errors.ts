import { FulcrumError } from '@fulcrum/core'

/**
 * Why a PROXY protocol header could not be encoded, parsed or read. A stable, machine-readable
 * string; the error's `message` carries the human-readable detail.
 *
 * | reason | raised when |
 * |---|---|
 * | `not-proxy-protocol` | the bytes start with neither the v2 signature nor `PROXY ` |
 * | `malformed-line` | a v1 line has a bare CR or LF, extra or missing spaces, the wrong token count or stray characters |
 * | `too-long` | a v1 line passes 107 bytes without CRLF, a v2 header is larger than the accepted cap, or an encoded header would not fit its length field |
 * | `unsupported-version` | the v2 version nibble is not 2, or `encodeProxyHeader` got a version other than 1 or 2 |
 * | `unsupported-command` | the v2 command nibble is neither 0 (LOCAL) nor 1 (PROXY) |
 * | `unsupported-family` | the v1 protocol is not `TCP4`/`TCP6`/`UNKNOWN`, or the v2 family/protocol byte is not one the specification defines |
 * | `invalid-address` | an address is not a valid IPv4/IPv6 literal (IPv4 with leading zeros, IPv6 with a zone id, …) |
 * | `family-mismatch` | an address is valid but of the other IP family than the header declares |
 * | `invalid-port` | a port is not an integer in 0–65535, or a v1 port has leading zeros |
 * | `address-length` | a v2 length is too short for the family's address block |
 * | `malformed-tlv` | a v2 TLV overruns the header's length, or bytes left over are too few for a TLV |
 * | `invalid-tlv` | a TLV to encode has a type outside 0–255 or a value longer than 65535 bytes, or TLVs were given for v1 |
 * | `partial-header` | the socket ended, closed or failed before a complete header arrived |
 * | `timeout` | no complete header arrived within the allowed time |
 */
export type ProxyProtocolErrorReason =
  | 'not-proxy-protocol'
  | 'malformed-line'
  | 'too-long'
  | 'unsupported-version'
  | 'unsupported-command'
  | 'unsupported-family'
  | 'invalid-address'
  | 'family-mismatch'
  | 'invalid-port'
  | 'address-length'
  | 'malformed-tlv'
  | 'invalid-tlv'
  | 'partial-header'
  | 'timeout'

/**
 * A PROXY protocol header is malformed, unsupported, incomplete or late, or addresses given to the
 * encoder are invalid. `reason` says which (see {@link ProxyProtocolErrorReason}); the code is
 * always `FULCRUM_ERR_PROXY_PROTOCOL`. When reading from a socket, the caller should close the
 * connection on this error.
 *
 * @example
 * ```ts
 * try {
 *   const header = await readProxyHeader(socket, 5_000)
 * } catch (err) {
 *   if (err instanceof ProxyProtocolError) log.warn(`dropping connection: ${err.reason}`)
 *   socket.destroy()
 * }
 * ```
 */
export class ProxyProtocolError extends FulcrumError {
  /** Why the header was rejected, e.g. `'malformed-line'` or `'timeout'`. */
  readonly reason: ProxyProtocolErrorReason

  /**
   * @param reason the machine-readable cause.
   * @param detail a human-readable explanation, appended to the message.
   * @param options `cause`: the underlying error (e.g. the socket's), if any.
   */
  constructor(reason: ProxyProtocolErrorReason, detail?: string, options?: { cause?: unknown }) {
    super(
      'FULCRUM_ERR_PROXY_PROTOCOL',
      detail === undefined ? `PROXY protocol: ${reason}` : `PROXY protocol: ${reason}: ${detail}`,
      options,
    )
    this.name = 'ProxyProtocolError'
    this.reason = reason
  }
}

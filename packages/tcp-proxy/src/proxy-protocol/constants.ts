/**
 * The 12-byte signature that opens every PROXY protocol v2 header
 * (`\r\n\r\n\0\r\nQUIT\n`).
 *
 * @example
 * ```ts
 * const isV2 = buf.length >= 12 && buf.subarray(0, 12).equals(PROXY_V2_SIGNATURE)
 * ```
 */
export const PROXY_V2_SIGNATURE: Buffer = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
])

/**
 * Longest v1 line the specification allows, CRLF included (`PROXY TCP6` with two full-length IPv6
 * addresses and two 5-digit ports).
 *
 * @example
 * ```ts
 * if (line.length > PROXY_V1_MAX_LENGTH) throw new Error('too long')
 * ```
 */
export const PROXY_V1_MAX_LENGTH = 107

/**
 * Size of the fixed part of a v2 header: signature (12), version/command (1), family/protocol (1)
 * and the 16-bit big-endian length of what follows (2).
 *
 * @example
 * ```ts
 * const total = PROXY_V2_FIXED_LENGTH + buf.readUInt16BE(14)
 * ```
 */
export const PROXY_V2_FIXED_LENGTH = 16

/**
 * Largest complete v2 header (fixed part, addresses and TLVs) that `parseProxyHeader` accepts.
 * The format allows up to 16 + 65535 bytes; real senders emit a few hundred at most (addresses,
 * ALPN, authority, SSL details, a CRC), so anything larger is rejected with reason `too-long` as
 * soon as the fixed part is seen, which bounds what an unauthenticated peer can make us buffer.
 * `encodeProxyHeader` still produces anything up to the format's limit.
 *
 * @example
 * ```ts
 * if (PROXY_V2_FIXED_LENGTH + buf.readUInt16BE(14) > PROXY_V2_MAX_ACCEPTED_LENGTH) reject()
 * ```
 */
export const PROXY_V2_MAX_ACCEPTED_LENGTH = 4096

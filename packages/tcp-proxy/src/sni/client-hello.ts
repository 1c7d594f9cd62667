import { SniError } from './errors.js'
import { isValidHostName } from './hostname.js'

/**
 * Returned by {@link parseClientHelloServerName} while the bytes given are a strict prefix of a
 * ClientHello: read more from the connection and call again with everything read so far.
 *
 * A unique symbol rather than a string, so that it can never be confused with a server name (a
 * client may legitimately ask for the single-label host `incomplete`).
 *
 * @example
 * ```ts
 * const result = parseClientHelloServerName(bytesSoFar)
 * if (result === INCOMPLETE) return waitForMore()
 * ```
 */
export const INCOMPLETE: unique symbol = Symbol('fulcrum.sni.incomplete')

/**
 * What {@link parseClientHelloServerName} returns: the lower-cased server name, `undefined` when the
 * complete ClientHello carries no `server_name` `host_name`, or {@link INCOMPLETE} when more bytes
 * are needed. Compare with `===`: the three cases never overlap.
 *
 * @example
 * ```ts
 * const r: ClientHelloResult = parseClientHelloServerName(buf)
 * if (r === INCOMPLETE) readMore()
 * else route(r) // string | undefined
 * ```
 */
export type ClientHelloResult = string | undefined | typeof INCOMPLETE

/**
 * The most bytes of the stream (record headers included) that a ClientHello may take: one maximal
 * TLS plaintext record, 16 KiB + its 5-byte header. Real ClientHellos are 0.2–2 KiB (post-quantum
 * key shares included). A ClientHello that would need more is refused as `too-large`, so a peer
 * cannot make the proxy buffer without bound.
 *
 * @default 16389
 * @example
 * ```ts
 * if (received.length > MAX_CLIENT_HELLO_BYTES) socket.destroy() // the parser would throw too-large anyway
 * ```
 */
export const MAX_CLIENT_HELLO_BYTES = 16_384 + 5

/** Largest TLSPlaintext fragment (RFC 8446 §5.1: 2^14). */
const MAX_RECORD = 16_384
const RECORD_HANDSHAKE = 22
const HANDSHAKE_CLIENT_HELLO = 1
const EXT_SERVER_NAME = 0
const NAME_TYPE_HOST_NAME = 0
/** Smallest ClientHello body: version 2, random 32, session id 1, one cipher suite 2+2, one compression method 1+1. */
const MIN_CLIENT_HELLO_BODY = 41

function u16(b: Buffer, p: number): number {
  return (b[p]! << 8) | b[p + 1]!
}

function malformed(detail: string): SniError {
  return new SniError('malformed', detail)
}

/**
 * Parses the start of a TLS connection and returns the server name (SNI) the client asked for,
 * without terminating TLS. Use it to route TLS passthrough by name; on a socket, use
 * `peekServerName()`, which reads, calls this and puts the bytes back.
 *
 * Pure and synchronous: `buf` holds every byte the client has sent so far, from the first. The
 * ClientHello may span several TLS records (reassembled; a copy is made only in that rare case);
 * bytes after the ClientHello (early data, …) are ignored. Strict: every length is checked against
 * its enclosing structure.
 *
 * - returns the `host_name` of the `server_name` extension, lower-cased, checked to be a valid DNS
 *   host name;
 * - returns `undefined` when the ClientHello is complete and has no `server_name` (or only name
 *   types other than `host_name`);
 * - returns {@link INCOMPLETE} when `buf` is a strict prefix of a ClientHello that could still be
 *   valid — never an answer before the whole ClientHello is there, never a throw for a prefix of a
 *   valid ClientHello;
 * - throws {@link SniError} (`FULCRUM_ERR_TLS_CLIENT_HELLO`) with reason `not-tls` (first byte not
 *   22, e.g. `GET / HTTP/1.1`), `malformed`, `too-large` (more than {@link MAX_CLIENT_HELLO_BYTES}),
 *   or `invalid-name`.
 *
 * @param buf the bytes received so far, starting with the first byte of the connection.
 * @returns the lower-cased server name, `undefined` for none, or {@link INCOMPLETE}.
 * @example
 * ```ts
 * const name = parseClientHelloServerName(received)
 * if (name === INCOMPLETE) return // wait for more bytes
 * route(name ?? 'default')
 * ```
 */
export function parseClientHelloServerName(buf: Buffer): ClientHelloResult {
  const len = buf.length
  let p = 0 // start of the current record's header
  let have = 0 // handshake bytes seen so far, across records
  let need = -1 // 4 + handshake body length, once the 4-byte handshake header is known
  let hsLength = 0
  let single = true // the whole ClientHello sits in the first record
  for (;;) {
    checkRecordHeader(buf, p, len, p === 0)
    if (len - p < 5) return incomplete(len)
    const recLen = u16(buf, p + 3)
    if (recLen === 0) throw malformed('empty handshake record')
    if (recLen > MAX_RECORD) throw malformed(`record length ${recLen} exceeds ${MAX_RECORD}`)
    const start = p + 5
    const fragEnd = start + recLen
    if (fragEnd > MAX_CLIENT_HELLO_BYTES)
      throw new SniError('too-large', `ClientHello needs more than ${MAX_CLIENT_HELLO_BYTES} bytes`)
    const availEnd = Math.min(fragEnd, len)
    let i = start
    while (have < 4 && i < availEnd) {
      const byte = buf[i++]!
      if (have === 0) {
        if (byte !== HANDSHAKE_CLIENT_HELLO)
          throw malformed(`first handshake message has type ${byte}, not ClientHello (1)`)
      } else {
        hsLength = (hsLength << 8) | byte
      }
      if (++have === 4) {
        if (hsLength < MIN_CLIENT_HELLO_BODY) throw malformed(`ClientHello length ${hsLength} is too short`)
        need = 4 + hsLength
        if (need > MAX_CLIENT_HELLO_BYTES - 5)
          throw new SniError('too-large', `ClientHello length ${hsLength} exceeds the cap`)
      }
    }
    have += availEnd - i
    if (need >= 0 && have >= need) break
    if (fragEnd > len) return incomplete(len)
    single = false
    p = fragEnd
  }
  if (single) return parseBody(buf, 9, 5 + need)
  // Rare: the ClientHello spans records. Reassemble the handshake message, then parse it.
  const msg = Buffer.allocUnsafe(need)
  let filled = 0
  for (let q = 0; filled < need; ) {
    const recLen = u16(buf, q + 3)
    const take = Math.min(recLen, need - filled)
    buf.copy(msg, filled, q + 5, q + 5 + take)
    filled += take
    q += 5 + recLen
  }
  return parseBody(msg, 4, need)
}

/** Checks whichever of the 5 record-header bytes at `p` are present. */
function checkRecordHeader(buf: Buffer, p: number, len: number, first: boolean): void {
  if (p >= len) return
  const type = buf[p]!
  if (type !== RECORD_HANDSHAKE) {
    if (first) throw new SniError('not-tls', `first byte is ${type}, not a TLS handshake record (22)`)
    throw malformed(`record of type ${type} interrupts the ClientHello`)
  }
  if (p + 1 < len && buf[p + 1] !== 3) {
    if (first) throw new SniError('not-tls', `record version major ${buf[p + 1]} is not 3`)
    throw malformed(`record version major ${buf[p + 1]} is not 3`)
  }
  if (p + 2 < len && buf[p + 2]! > 4) throw malformed(`record version 3.${buf[p + 2]} is unknown`)
}

function incomplete(len: number): typeof INCOMPLETE {
  // A valid ClientHello needs at most MAX_CLIENT_HELLO_BYTES, so a longer prefix cannot be one.
  if (len >= MAX_CLIENT_HELLO_BYTES)
    throw new SniError('too-large', `no complete ClientHello in ${MAX_CLIENT_HELLO_BYTES} bytes`)
  return INCOMPLETE
}

/** Parses a complete ClientHello body `b[p, end)` (after the 4-byte handshake header). */
function parseBody(b: Buffer, p: number, end: number): string | undefined {
  if (b[p] !== 3) throw malformed(`client version major ${b[p]} is not 3`)
  p += 2 + 32 // legacy_version, random
  const sessionIdLen = b[p++]!
  if (sessionIdLen > 32) throw malformed(`session id length ${sessionIdLen} exceeds 32`)
  p += sessionIdLen
  if (p + 2 > end) throw malformed('session id overruns the ClientHello')
  const suitesLen = u16(b, p)
  p += 2
  if (suitesLen < 2 || suitesLen % 2 !== 0) throw malformed(`cipher suites length ${suitesLen} is invalid`)
  p += suitesLen
  if (p + 1 > end) throw malformed('cipher suites overrun the ClientHello')
  const compressionLen = b[p++]!
  if (compressionLen < 1) throw malformed('no compression methods')
  p += compressionLen
  if (p > end) throw malformed('compression methods overrun the ClientHello')
  if (p === end) return undefined // no extensions (TLS 1.0–1.2 allow it)
  if (p + 2 > end) throw malformed('truncated extensions length')
  const extLen = u16(b, p)
  p += 2
  if (p + extLen !== end)
    throw malformed(`extensions length ${extLen} does not match the ${end - p} bytes left in the ClientHello`)
  let name: string | undefined
  let seen = false
  while (p < end) {
    if (p + 4 > end) throw malformed('truncated extension header')
    const type = u16(b, p)
    const len = u16(b, p + 2)
    p += 4
    if (p + len > end) throw malformed(`extension ${type} length ${len} overruns the extensions`)
    if (type === EXT_SERVER_NAME) {
      if (seen) throw malformed('duplicate server_name extension')
      seen = true
      name = parseServerName(b, p, p + len)
    }
    p += len
  }
  return name
}

/** Parses a `server_name` extension body `b[p, end)` (RFC 6066 §3). */
function parseServerName(b: Buffer, p: number, end: number): string | undefined {
  if (end - p < 2) throw malformed('server_name extension is too short')
  const listLen = u16(b, p)
  p += 2
  if (listLen === 0 || p + listLen !== end)
    throw malformed(`server name list length ${listLen} does not match the extension`)
  let host: string | undefined
  while (p < end) {
    if (p + 3 > end) throw malformed('truncated server name entry')
    const nameType = b[p]!
    const nameLen = u16(b, p + 1)
    p += 3
    if (nameLen === 0 || p + nameLen > end) throw malformed(`server name length ${nameLen} is invalid`)
    if (nameType === NAME_TYPE_HOST_NAME) {
      if (host !== undefined) throw malformed('more than one host_name')
      const raw = b.toString('latin1', p, p + nameLen)
      if (!isValidHostName(raw))
        throw new SniError('invalid-name', `${JSON.stringify(raw.slice(0, 64))} is not a valid DNS host name`)
      host = raw.toLowerCase()
    }
    p += nameLen
  }
  return host
}

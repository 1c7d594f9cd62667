import { isIPv4, isIPv6 } from 'node:net'
import type { ProxyHeader } from '../types.js'
import {
  PROXY_V1_MAX_LENGTH,
  PROXY_V2_FIXED_LENGTH,
  PROXY_V2_MAX_ACCEPTED_LENGTH,
  PROXY_V2_SIGNATURE,
} from './constants.js'
import { ProxyProtocolError } from './errors.js'
import { canonicalIPv6, formatIPv4, formatIPv6, isStrictIPv4, isStrictIPv6 } from './ip-address.js'

const CR = 0x0d
const LF = 0x0a
const V1_PREFIX = Buffer.from('PROXY ', 'latin1')
const V1_UNKNOWN = 'PROXY UNKNOWN'
const PORT = /^(?:0|[1-9]\d{0,4})$/

/**
 * Size of the address block for every v2 family/protocol byte the specification defines. Bytes
 * not listed here are invalid and rejected.
 */
const V2_ADDRESS_BLOCK: ReadonlyMap<number, number> = new Map([
  [0x00, 0], // UNSPEC
  [0x11, 12], // TCP over IPv4
  [0x12, 12], // UDP over IPv4
  [0x21, 36], // TCP over IPv6
  [0x22, 36], // UDP over IPv6
  [0x31, 216], // UNIX stream
  [0x32, 216], // UNIX datagram
])

/** A complete header and how many bytes of the input it took. */
export interface ParsedProxyHeader {
  /** What the header says. */
  readonly header: ProxyHeader
  /** Its length in bytes: the application's data starts at `buf[length]`. */
  readonly length: number
}

/**
 * Strict, incremental PROXY protocol parser. Give it everything received so far, from the first
 * byte of the connection; it returns `'incomplete'` while the bytes are a valid beginning of a
 * header, the parsed header and its length once complete (bytes after it are the application's
 * and are not looked at), and throws {@link ProxyProtocolError} as soon as the bytes cannot be a
 * valid header. It never consumes or retains `buf`; TLV values are copied.
 *
 * Detection follows the specification: v2 first (the 12-byte signature; a shorter prefix of it is
 * `'incomplete'` until 16 bytes are there), then v1 (`PROXY `); anything else is
 * `not-proxy-protocol`.
 *
 * **v1**: exactly `PROXY <TCP4|TCP6> <src> <dst> <sport> <dport>\r\n`, single spaces, at most 107
 * bytes with the CRLF (`too-long` past that), no bare CR or LF and only printable ASCII
 * (`malformed-line`); addresses must be strict literals of the declared family (IPv4 without
 * leading zeros, IPv6 without zone id: `invalid-address`, or `family-mismatch`); ports decimal
 * 0–65535 without leading zeros (`invalid-port`). `PROXY UNKNOWN` accepts and ignores whatever
 * follows up to the CRLF. IPv6 addresses are returned in Node's canonical form (see
 * `encodeProxyHeader`), so they compare equal to what a socket would report.
 *
 * **v2**: the version nibble must be 2 (`unsupported-version`), the command 0 LOCAL or 1 PROXY
 * (`unsupported-command`), the family/protocol byte one the specification defines
 * (`unsupported-family`), the length at least the family's address block (`address-length`), and
 * the TLVs after the address block must fill the rest exactly (`malformed-tlv`). A repeated TLV
 * type keeps its last value. The TLV values are not interpreted (no CRC32C check, SSL sub-TLVs left
 * packed).
 *
 * Decisions beyond the specification's letter:
 * - **UDP (`0x12`, `0x22`) and UNIX (`0x31`, `0x32`) families are accepted and mapped to
 *   `'UNKNOWN'`** (their address block is skipped, the TLVs still parsed): the specification lets a
 *   receiver that does not implement a valid family fall back to UNSPEC, i.e. keep the connection's
 *   real endpoints. Bytes that are not defined at all (e.g. `0x13`, `0x01`, `0x41`) are rejected.
 * - **LOCAL** (health checks of the sender) yields `local: true` and family `'UNKNOWN'` whatever the
 *   family byte says (it must still be valid and its address block fit); the addresses are ignored.
 * - For every `'UNKNOWN'` result the addresses are `''` and the ports `0`.
 * - **Size cap**: a v2 header whose total length (16 + length field) exceeds
 *   {@link PROXY_V2_MAX_ACCEPTED_LENGTH} (4096) bytes is rejected with `too-long` as soon as its
 *   first 16 bytes arrive, so an unauthenticated peer cannot make the reader buffer 64 KiB.
 *
 * @param buf the connection's first bytes (any amount; more is fine).
 * @returns the header and its length, or `'incomplete'` when more bytes are needed.
 * @throws {ProxyProtocolError} on anything malformed or unsupported.
 *
 * @example
 * ```ts
 * let received = Buffer.alloc(0)
 * socket.on('data', (chunk) => {
 *   received = Buffer.concat([received, chunk])
 *   const result = parseProxyHeader(received) // throws on garbage
 *   if (result === 'incomplete') return
 *   console.log(result.header.sourceAddress, result.header.sourcePort)
 *   const payload = received.subarray(result.length)
 * })
 * ```
 */
export function parseProxyHeader(buf: Buffer): ParsedProxyHeader | 'incomplete' {
  if (buf.length === 0) return 'incomplete'
  if (buf[0] === PROXY_V2_SIGNATURE[0]) {
    const n = Math.min(buf.length, PROXY_V2_SIGNATURE.length)
    if (PROXY_V2_SIGNATURE.compare(buf, 0, n, 0, n) !== 0) throw notProxyProtocol()
    return buf.length < PROXY_V2_FIXED_LENGTH ? 'incomplete' : parseV2(buf)
  }
  if (buf[0] === V1_PREFIX[0]) {
    const n = Math.min(buf.length, V1_PREFIX.length)
    if (V1_PREFIX.compare(buf, 0, n, 0, n) !== 0) throw notProxyProtocol()
    return buf.length < V1_PREFIX.length ? 'incomplete' : parseV1(buf)
  }
  throw notProxyProtocol()
}

function notProxyProtocol(): ProxyProtocolError {
  return new ProxyProtocolError(
    'not-proxy-protocol',
    'not a PROXY protocol header (neither the v2 signature nor "PROXY ")',
  )
}

function parseV1(buf: Buffer): ParsedProxyHeader | 'incomplete' {
  const limit = Math.min(buf.length, PROXY_V1_MAX_LENGTH)
  let end = -1
  for (let i = V1_PREFIX.length; i < limit; i++) {
    const c = buf[i]!
    if (c === CR) {
      if (i + 2 > PROXY_V1_MAX_LENGTH) break
      if (i + 1 >= buf.length) return 'incomplete'
      if (buf[i + 1] !== LF)
        throw new ProxyProtocolError('malformed-line', `bare CR at byte ${i} of the v1 line`)
      end = i
      break
    }
    if (c === LF) throw new ProxyProtocolError('malformed-line', `bare LF at byte ${i} of the v1 line`)
    if ((c < 0x20 || c > 0x7e) && !isUnknownLine(buf)) {
      throw new ProxyProtocolError('malformed-line', `non-printable byte 0x${c.toString(16)} at byte ${i}`)
    }
  }
  if (end === -1) {
    if (buf.length < PROXY_V1_MAX_LENGTH) return 'incomplete'
    throw new ProxyProtocolError(
      'too-long',
      `no CRLF within the first ${PROXY_V1_MAX_LENGTH} bytes of a v1 line`,
    )
  }
  const length = end + 2
  const line = buf.toString('latin1', 0, end)
  if (line === V1_UNKNOWN || line.startsWith(`${V1_UNKNOWN} `)) {
    return { header: unknownHeader(1, false, new Map()), length }
  }
  const tokens = line.split(' ')
  if (tokens.includes('')) {
    throw new ProxyProtocolError('malformed-line', 'empty field in the v1 line (extra or trailing space)')
  }
  const family = tokens[1]
  if (family !== 'TCP4' && family !== 'TCP6') {
    throw new ProxyProtocolError('unsupported-family', `v1 protocol ${JSON.stringify(family)}`)
  }
  if (tokens.length !== 6) {
    throw new ProxyProtocolError(
      'malformed-line',
      `v1 ${family} line has ${tokens.length} fields, expected 6`,
    )
  }
  const [, , src = '', dst = '', sport = '', dport = ''] = tokens
  return {
    header: {
      version: 1,
      local: false,
      family,
      sourceAddress: v1Address(family, src, 'source'),
      destinationAddress: v1Address(family, dst, 'destination'),
      sourcePort: v1Port(sport, 'source'),
      destinationPort: v1Port(dport, 'destination'),
      tlvs: new Map(),
    },
    length,
  }
}

function isUnknownLine(buf: Buffer): boolean {
  return buf.length > V1_UNKNOWN.length && buf.toString('latin1', 0, V1_UNKNOWN.length) === V1_UNKNOWN
}

function v1Address(family: 'TCP4' | 'TCP6', text: string, which: string): string {
  if (family === 'TCP4') {
    if (isStrictIPv4(text)) return text
    if (isIPv6(text)) {
      throw new ProxyProtocolError(
        'family-mismatch',
        `${which} address ${JSON.stringify(text)} is IPv6 in a TCP4 line`,
      )
    }
  } else {
    if (isStrictIPv6(text)) return canonicalIPv6(text)
    if (isIPv4(text)) {
      throw new ProxyProtocolError(
        'family-mismatch',
        `${which} address ${JSON.stringify(text)} is IPv4 in a TCP6 line`,
      )
    }
  }
  throw new ProxyProtocolError(
    'invalid-address',
    `${which} address ${JSON.stringify(text)} is not a valid ${family === 'TCP4' ? 'IPv4' : 'IPv6'} address`,
  )
}

function v1Port(text: string, which: string): number {
  const port = Number(text)
  if (!PORT.test(text) || port > 0xffff) {
    throw new ProxyProtocolError(
      'invalid-port',
      `${which} port ${JSON.stringify(text)} is not a decimal in 0-65535 without leading zeros`,
    )
  }
  return port
}

function parseV2(buf: Buffer): ParsedProxyHeader | 'incomplete' {
  const verCmd = buf[12]!
  const version = verCmd >> 4
  if (version !== 2)
    throw new ProxyProtocolError('unsupported-version', `v2 header with version nibble ${version}`)
  const command = verCmd & 0x0f
  if (command !== 0 && command !== 1) {
    throw new ProxyProtocolError(
      'unsupported-command',
      `v2 command ${command} (only 0 LOCAL and 1 PROXY exist)`,
    )
  }
  const familyByte = buf[13]!
  const blockLength = V2_ADDRESS_BLOCK.get(familyByte)
  if (blockLength === undefined) {
    throw new ProxyProtocolError('unsupported-family', `v2 family/protocol byte 0x${hex2(familyByte)}`)
  }
  const length = PROXY_V2_FIXED_LENGTH + buf.readUInt16BE(14)
  if (length > PROXY_V2_MAX_ACCEPTED_LENGTH) {
    throw new ProxyProtocolError(
      'too-long',
      `v2 header of ${length} bytes, more than the ${PROXY_V2_MAX_ACCEPTED_LENGTH} accepted`,
    )
  }
  if (length - PROXY_V2_FIXED_LENGTH < blockLength) {
    throw new ProxyProtocolError(
      'address-length',
      `v2 length ${length - PROXY_V2_FIXED_LENGTH} is shorter than the ${blockLength}-byte address block of family 0x${hex2(familyByte)}`,
    )
  }
  if (buf.length < length) return 'incomplete'
  const tlvs = parseTlvs(buf, PROXY_V2_FIXED_LENGTH + blockLength, length)
  const local = command === 0
  const at = PROXY_V2_FIXED_LENGTH
  if (!local && familyByte === 0x11) {
    return {
      header: {
        version: 2,
        local,
        family: 'TCP4',
        sourceAddress: formatIPv4(buf, at),
        destinationAddress: formatIPv4(buf, at + 4),
        sourcePort: buf.readUInt16BE(at + 8),
        destinationPort: buf.readUInt16BE(at + 10),
        tlvs,
      },
      length,
    }
  }
  if (!local && familyByte === 0x21) {
    return {
      header: {
        version: 2,
        local,
        family: 'TCP6',
        sourceAddress: formatIPv6(buf, at),
        destinationAddress: formatIPv6(buf, at + 16),
        sourcePort: buf.readUInt16BE(at + 32),
        destinationPort: buf.readUInt16BE(at + 34),
        tlvs,
      },
      length,
    }
  }
  return { header: unknownHeader(2, local, tlvs), length }
}

function parseTlvs(buf: Buffer, start: number, end: number): Map<number, Buffer> {
  const tlvs = new Map<number, Buffer>()
  let offset = start
  while (offset < end) {
    if (end - offset < 3) {
      throw new ProxyProtocolError(
        'malformed-tlv',
        `${end - offset} byte(s) left at offset ${offset}, too few for a TLV header`,
      )
    }
    const type = buf[offset]!
    const valueLength = buf.readUInt16BE(offset + 1)
    const valueEnd = offset + 3 + valueLength
    if (valueEnd > end) {
      throw new ProxyProtocolError(
        'malformed-tlv',
        `TLV 0x${hex2(type)} at offset ${offset} declares ${valueLength} bytes, overrunning the header by ${valueEnd - end}`,
      )
    }
    tlvs.set(type, Buffer.from(buf.subarray(offset + 3, valueEnd)))
    offset = valueEnd
  }
  return tlvs
}

function unknownHeader(version: 1 | 2, local: boolean, tlvs: ReadonlyMap<number, Buffer>): ProxyHeader {
  return {
    version,
    local,
    family: 'UNKNOWN',
    sourceAddress: '',
    sourcePort: 0,
    destinationAddress: '',
    destinationPort: 0,
    tlvs,
  }
}

function hex2(byte: number): string {
  return byte.toString(16).padStart(2, '0')
}

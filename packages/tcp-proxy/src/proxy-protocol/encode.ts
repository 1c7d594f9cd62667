import { isIPv4, isIPv6 } from 'node:net'
import type { ProxyAddresses } from '../types.js'
import { PROXY_V2_FIXED_LENGTH, PROXY_V2_SIGNATURE } from './constants.js'
import { ProxyProtocolError } from './errors.js'
import { canonicalIPv6, isStrictIPv4, isStrictIPv6, writeIPv4, writeIPv6 } from './ip-address.js'

/** v2 version/command bytes. */
const V2_LOCAL = 0x20
const V2_PROXY = 0x21
/** v2 family/protocol bytes. */
const V2_UNSPEC = 0x00
const V2_TCP4 = 0x11
const V2_TCP6 = 0x21
const MAX_V2_PAYLOAD = 0xffff

/** TLVs to append to a v2 header, as a map or as `[type, value]` pairs (pairs may repeat a type). */
export type ProxyTlvs = ReadonlyMap<number, Buffer> | Iterable<[number, Buffer]>

/**
 * Encodes a PROXY protocol header to write to a backend before any client byte.
 *
 * **v1** (text): `PROXY TCP4 <src> <dst> <sport> <dport>\r\n`, likewise with `TCP6`; IPv6 addresses
 * are written in the canonical compressed form Node reports for sockets (`2001:db8::1`,
 * `::ffff:192.0.2.1`), whatever spelling was passed in. Family `UNKNOWN` gives exactly
 * `PROXY UNKNOWN\r\n` (addresses are ignored). v1 cannot carry TLVs: passing any is an error.
 *
 * **v2** (binary): signature, command PROXY (`0x21`), family `0x11` (TCP over IPv4) or `0x21`
 * (TCP over IPv6), the big-endian length, the source and destination addresses and ports, then the
 * TLVs in iteration order (`type` 1 byte, `length` 2 bytes big-endian, `value`). Family `UNKNOWN`
 * is encoded as command PROXY with family `AF_UNSPEC` (`0x00`), an empty address block (addresses
 * are ignored) and the TLVs, if any: receivers then keep the connection's real endpoints, as the
 * specification requires for `UNSPEC`. For health checks with no client at all, use
 * {@link encodeProxyV2Local}.
 *
 * Validation (throws {@link ProxyProtocolError}): addresses must be strict literals of the
 * declared family (`invalid-address`, or `family-mismatch` when they are of the other family —
 * note that Node reports IPv4 clients of a dual-stack listener as `::ffff:a.b.c.d`, which is
 * `TCP6`); ports integers in 0–65535 (`invalid-port`); TLV types integers in 0–255 and values at
 * most 65535 bytes (`invalid-tlv`); the whole v2 payload must fit the 16-bit length (`too-long`);
 * `version` must be 1 or 2 (`unsupported-version`).
 *
 * @param version 1 (text) or 2 (binary).
 * @param addresses the client's (source) and the proxy's listening (destination) endpoints.
 * @param options `tlvs`: v2 extensions, e.g. `0x01` ALPN or `0x02` authority.
 * @returns a fresh buffer holding exactly the header.
 *
 * @example
 * ```ts
 * const header = encodeProxyHeader(1, {
 *   family: 'TCP4',
 *   sourceAddress: '192.0.2.10', sourcePort: 51234,
 *   destinationAddress: '198.51.100.1', destinationPort: 443,
 * })
 * header.toString('latin1') // 'PROXY TCP4 192.0.2.10 198.51.100.1 51234 443\r\n'
 *
 * const v2 = encodeProxyHeader(2, addresses, { tlvs: new Map([[0x02, Buffer.from('example.com')]]) })
 * backend.write(v2)
 * ```
 */
export function encodeProxyHeader(
  version: 1 | 2,
  addresses: ProxyAddresses,
  options?: { tlvs?: ProxyTlvs },
): Buffer {
  if (version !== 1 && version !== 2) {
    throw new ProxyProtocolError('unsupported-version', `cannot encode version ${String(version)}`)
  }
  const tlvs = collectTlvs(options?.tlvs)
  if (version === 1) {
    if (tlvs.length > 0) throw new ProxyProtocolError('invalid-tlv', 'PROXY protocol v1 cannot carry TLVs')
    return encodeV1(addresses)
  }
  return encodeV2(addresses, tlvs)
}

/**
 * Encodes a PROXY protocol v2 header with the LOCAL command (`0x20`), family `AF_UNSPEC` and no
 * addresses: what a sender writes on connections it opens itself, such as health checks, so the
 * receiver uses the connection's real endpoints. Without TLVs it is always the same 16 bytes:
 * `0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a 20 00 00 00`.
 *
 * @param options `tlvs`: optional extensions to append (validated as for {@link encodeProxyHeader}).
 * @returns a fresh buffer holding exactly the header.
 *
 * @example
 * ```ts
 * const probe = net.connect(port, host, () => {
 *   probe.write(encodeProxyV2Local())
 *   probe.write('GET /healthz HTTP/1.1\r\nHost: backend\r\n\r\n')
 * })
 * ```
 */
export function encodeProxyV2Local(options?: { tlvs?: ProxyTlvs }): Buffer {
  return encodeV2Frame(V2_LOCAL, V2_UNSPEC, Buffer.alloc(0), collectTlvs(options?.tlvs))
}

function encodeV1(a: ProxyAddresses): Buffer {
  if (a.family === 'UNKNOWN') return Buffer.from('PROXY UNKNOWN\r\n', 'latin1')
  const { source, destination } = validatedAddresses(a)
  const sport = validatedPort(a.sourcePort, 'sourcePort')
  const dport = validatedPort(a.destinationPort, 'destinationPort')
  return Buffer.from(`PROXY ${a.family} ${source} ${destination} ${sport} ${dport}\r\n`, 'latin1')
}

function encodeV2(a: ProxyAddresses, tlvs: readonly [number, Buffer][]): Buffer {
  if (a.family === 'UNKNOWN') return encodeV2Frame(V2_PROXY, V2_UNSPEC, Buffer.alloc(0), tlvs)
  const { source, destination } = validatedAddresses(a)
  const sport = validatedPort(a.sourcePort, 'sourcePort')
  const dport = validatedPort(a.destinationPort, 'destinationPort')
  const size = a.family === 'TCP4' ? 4 : 16
  const block = Buffer.alloc(2 * size + 4)
  if (a.family === 'TCP4') {
    writeIPv4(source, block, 0)
    writeIPv4(destination, block, size)
  } else {
    writeIPv6(source, block, 0)
    writeIPv6(destination, block, size)
  }
  block.writeUInt16BE(sport, 2 * size)
  block.writeUInt16BE(dport, 2 * size + 2)
  return encodeV2Frame(V2_PROXY, a.family === 'TCP4' ? V2_TCP4 : V2_TCP6, block, tlvs)
}

function encodeV2Frame(
  verCmd: number,
  family: number,
  block: Buffer,
  tlvs: readonly [number, Buffer][],
): Buffer {
  let payload = block.length
  for (const [, value] of tlvs) payload += 3 + value.length
  if (payload > MAX_V2_PAYLOAD) {
    throw new ProxyProtocolError(
      'too-long',
      `v2 addresses and TLVs take ${payload} bytes, more than the 16-bit length allows (${MAX_V2_PAYLOAD})`,
    )
  }
  const out = Buffer.alloc(PROXY_V2_FIXED_LENGTH + payload)
  PROXY_V2_SIGNATURE.copy(out, 0)
  out[12] = verCmd
  out[13] = family
  out.writeUInt16BE(payload, 14)
  let offset = PROXY_V2_FIXED_LENGTH + block.copy(out, PROXY_V2_FIXED_LENGTH)
  for (const [type, value] of tlvs) {
    out[offset] = type
    out.writeUInt16BE(value.length, offset + 1)
    offset += 3
    offset += value.copy(out, offset)
  }
  return out
}

function collectTlvs(tlvs: ProxyTlvs | undefined): [number, Buffer][] {
  if (tlvs === undefined) return []
  const out: [number, Buffer][] = []
  for (const entry of tlvs) {
    const [type, value] = entry
    if (!Number.isInteger(type) || type < 0 || type > 0xff) {
      throw new ProxyProtocolError('invalid-tlv', `TLV type ${String(type)} is not an integer in 0-255`)
    }
    if (!(value instanceof Uint8Array)) {
      throw new ProxyProtocolError('invalid-tlv', `TLV 0x${type.toString(16)} value is not a Buffer`)
    }
    if (value.length > MAX_V2_PAYLOAD) {
      throw new ProxyProtocolError(
        'invalid-tlv',
        `TLV 0x${type.toString(16)} value is ${value.length} bytes, more than ${MAX_V2_PAYLOAD}`,
      )
    }
    out.push([type, Buffer.from(value.buffer, value.byteOffset, value.length)])
  }
  return out
}

function validatedAddresses(a: ProxyAddresses): { source: string; destination: string } {
  return {
    source: validatedAddress(a.family, a.sourceAddress, 'sourceAddress'),
    destination: validatedAddress(a.family, a.destinationAddress, 'destinationAddress'),
  }
}

function validatedAddress(family: 'TCP4' | 'TCP6' | 'UNKNOWN', address: string, field: string): string {
  if (typeof address !== 'string') {
    throw new ProxyProtocolError('invalid-address', `${field} is not a string`)
  }
  if (family === 'TCP4') {
    if (isStrictIPv4(address)) return address
    if (isIPv6(address)) {
      throw new ProxyProtocolError(
        'family-mismatch',
        `${field} ${JSON.stringify(address)} is IPv6 but family is TCP4`,
      )
    }
  } else if (family === 'TCP6') {
    if (isStrictIPv6(address)) return canonicalIPv6(address)
    if (isIPv4(address)) {
      throw new ProxyProtocolError(
        'family-mismatch',
        `${field} ${JSON.stringify(address)} is IPv4 but family is TCP6`,
      )
    }
  } else {
    throw new ProxyProtocolError('unsupported-family', `family ${JSON.stringify(family)}`)
  }
  throw new ProxyProtocolError(
    'invalid-address',
    `${field} ${JSON.stringify(address)} is not a valid ${family === 'TCP4' ? 'IPv4' : 'IPv6'} address`,
  )
}

function validatedPort(port: number, field: string): number {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new ProxyProtocolError('invalid-port', `${field} ${String(port)} is not an integer in 0-65535`)
  }
  return port
}

import { describe, expect, it } from 'vitest'
import type { ProxyAddresses, ProxyHeader } from '../types.js'
import { PROXY_V2_MAX_ACCEPTED_LENGTH, PROXY_V2_SIGNATURE } from './constants.js'
import { encodeProxyHeader, encodeProxyV2Local } from './encode.js'
import { ProxyProtocolError, type ProxyProtocolErrorReason } from './errors.js'
import { parseProxyHeader } from './parse.js'

const SIG = '0d0a0d0a000d0a515549540a'

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex')
}

function latin1(text: string): Buffer {
  return Buffer.from(text, 'latin1')
}

function parsed(buf: Buffer): { header: ProxyHeader; length: number } {
  const result = parseProxyHeader(buf)
  if (result === 'incomplete') throw new Error('unexpectedly incomplete')
  return result
}

function reasonOf(buf: Buffer): ProxyProtocolErrorReason | 'incomplete' | 'accepted' {
  try {
    return parseProxyHeader(buf) === 'incomplete' ? 'incomplete' : 'accepted'
  } catch (error) {
    expect(error).toBeInstanceOf(ProxyProtocolError)
    return (error as ProxyProtocolError).reason
  }
}

/** A v2 header from its parts, with the length field computed. */
function v2(verCmd: number, family: number, body: Buffer): Buffer {
  const fixed = Buffer.alloc(4)
  fixed[0] = verCmd
  fixed[1] = family
  fixed.writeUInt16BE(body.length, 2)
  return Buffer.concat([PROXY_V2_SIGNATURE, fixed, body])
}

const TCP4_BLOCK = hex('c000020a c6336401 c822 01bb')

const tcp4: ProxyAddresses = {
  family: 'TCP4',
  sourceAddress: '192.0.2.10',
  sourcePort: 51234,
  destinationAddress: '198.51.100.1',
  destinationPort: 443,
}
const tcp6: ProxyAddresses = {
  family: 'TCP6',
  sourceAddress: '2001:db8::1',
  sourcePort: 1,
  destinationAddress: '::ffff:192.0.2.1',
  destinationPort: 65535,
}
const UNKNOWN_FIELDS = {
  family: 'UNKNOWN',
  sourceAddress: '',
  sourcePort: 0,
  destinationAddress: '',
  destinationPort: 0,
} as const

describe('parseProxyHeader v1', () => {
  it('parses TCP4 and reports the header length, ignoring what follows', () => {
    const { header, length } = parsed(
      latin1('PROXY TCP4 192.0.2.10 198.51.100.1 51234 443\r\nGET / HTTP/1.1\r\n'),
    )
    expect(length).toBe(46)
    expect(header).toEqual({ version: 1, local: false, ...tcp4, tlvs: new Map() })
  })

  it('parses TCP6 and returns canonical addresses', () => {
    const { header } = parsed(latin1('PROXY TCP6 2001:0DB8:0:0::1 ::FFFF:C000:0201 1 65535\r\n'))
    expect(header).toEqual({ version: 1, local: false, ...tcp6, tlvs: new Map() })
  })

  it('UNKNOWN accepts and ignores the rest of the line', () => {
    expect(parsed(latin1('PROXY UNKNOWN\r\n'))).toEqual({
      header: { version: 1, local: false, ...UNKNOWN_FIELDS, tlvs: new Map() },
      length: 15,
    })
    const rest = latin1('PROXY UNKNOWN ffff::1 not an address \x00\xff  99999\r\nDATA')
    expect(parsed(rest).length).toBe(rest.length - 4)
    expect(parsed(rest).header.family).toBe('UNKNOWN')
  })

  it('accepts a line of exactly 107 bytes and rejects 108', () => {
    const ok = latin1(`PROXY UNKNOWN ${'x'.repeat(107 - 16)}\r\n`)
    expect(ok.length).toBe(107)
    expect(parsed(ok).length).toBe(107)
    const long = latin1(`PROXY UNKNOWN ${'x'.repeat(108 - 16)}\r\n`)
    expect(reasonOf(long)).toBe('too-long')
    // …and notices as soon as 107 bytes without CRLF are there, before the CRLF arrives.
    expect(reasonOf(long.subarray(0, 106))).toBe('incomplete')
    expect(reasonOf(long.subarray(0, 107))).toBe('too-long')
  })

  it('is incremental: every prefix is incomplete, the whole line parses', () => {
    const line = latin1('PROXY TCP6 2001:db8::1 ::ffff:192.0.2.1 1 65535\r\n')
    for (let n = 0; n < line.length; n++) expect(parseProxyHeader(line.subarray(0, n))).toBe('incomplete')
    expect(parsed(line).header.family).toBe('TCP6')
  })

  const malformed: [string, string, ProxyProtocolErrorReason][] = [
    ['bare LF', 'PROXY TCP4 192.0.2.10 198.51.100.1 51234 443\n', 'malformed-line'],
    ['bare LF in UNKNOWN', 'PROXY UNKNOWN abc\ndef\r\n', 'malformed-line'],
    ['bare CR', 'PROXY TCP4 192.0.2.10 198.51.100.1 51234 443\rX', 'malformed-line'],
    ['double space', 'PROXY TCP4  192.0.2.10 198.51.100.1 51234 443\r\n', 'malformed-line'],
    ['trailing space', 'PROXY TCP4 192.0.2.10 198.51.100.1 51234 443 \r\n', 'malformed-line'],
    ['space before protocol', 'PROXY  TCP4 192.0.2.10 198.51.100.1 51234 443\r\n', 'malformed-line'],
    ['tab separator', 'PROXY TCP4\t192.0.2.10 198.51.100.1 51234 443\r\n', 'malformed-line'],
    ['nothing after PROXY', 'PROXY \r\n', 'malformed-line'],
    ['too few fields', 'PROXY TCP4 192.0.2.10 198.51.100.1 51234\r\n', 'malformed-line'],
    ['too many fields', 'PROXY TCP4 192.0.2.10 198.51.100.1 51234 443 1\r\n', 'malformed-line'],
    ['protocol only', 'PROXY TCP4\r\n', 'malformed-line'],
    ['unknown protocol', 'PROXY TCP5 192.0.2.10 198.51.100.1 51234 443\r\n', 'unsupported-family'],
    ['UDP4', 'PROXY UDP4 192.0.2.10 198.51.100.1 51234 443\r\n', 'unsupported-family'],
    ['lowercase protocol', 'PROXY tcp4 192.0.2.10 198.51.100.1 51234 443\r\n', 'unsupported-family'],
    ['UNKNOWN glued to more', 'PROXY UNKNOWNX\r\n', 'unsupported-family'],
    ['IPv4 octet 256', 'PROXY TCP4 192.0.2.256 198.51.100.1 51234 443\r\n', 'invalid-address'],
    ['IPv4 leading zero', 'PROXY TCP4 192.0.2.10 198.051.100.1 51234 443\r\n', 'invalid-address'],
    ['IPv4 three octets', 'PROXY TCP4 192.0.2 198.51.100.1 51234 443\r\n', 'invalid-address'],
    ['host name', 'PROXY TCP4 localhost 198.51.100.1 51234 443\r\n', 'invalid-address'],
    ['IPv6 zone id', 'PROXY TCP6 fe80::1%eth0 ::1 51234 443\r\n', 'invalid-address'],
    ['IPv6 bad hex', 'PROXY TCP6 2001:db8::g ::1 51234 443\r\n', 'invalid-address'],
    ['IPv6 in TCP4', 'PROXY TCP4 ::1 198.51.100.1 51234 443\r\n', 'family-mismatch'],
    ['IPv4 in TCP6', 'PROXY TCP6 ::1 192.0.2.1 51234 443\r\n', 'family-mismatch'],
    ['port 65536', 'PROXY TCP4 192.0.2.10 198.51.100.1 65536 443\r\n', 'invalid-port'],
    ['port leading zero', 'PROXY TCP4 192.0.2.10 198.51.100.1 51234 0443\r\n', 'invalid-port'],
    ['port 00', 'PROXY TCP4 192.0.2.10 198.51.100.1 00 443\r\n', 'invalid-port'],
    ['negative port', 'PROXY TCP4 192.0.2.10 198.51.100.1 -1 443\r\n', 'invalid-port'],
    ['signed port', 'PROXY TCP4 192.0.2.10 198.51.100.1 +1 443\r\n', 'invalid-port'],
    ['exponent port', 'PROXY TCP4 192.0.2.10 198.51.100.1 1e3 443\r\n', 'invalid-port'],
    ['hex port', 'PROXY TCP4 192.0.2.10 198.51.100.1 0x50 443\r\n', 'invalid-port'],
    ['six-digit port', 'PROXY TCP4 192.0.2.10 198.51.100.1 100000 443\r\n', 'invalid-port'],
    ['no CRLF within 107 bytes', `PROXY TCP4 192.0.2.10 198.51.100.1 51234 443${' '.repeat(70)}`, 'too-long'],
    ['lowercase proxy', 'proxy TCP4 192.0.2.10 198.51.100.1 51234 443\r\n', 'not-proxy-protocol'],
    ['PROXY without space', 'PROXYTCP4 192.0.2.10 198.51.100.1 51234 443\r\n', 'not-proxy-protocol'],
    ['HTTP request', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'not-proxy-protocol'],
  ]
  for (const [name, text, reason] of malformed) {
    it(`rejects ${name} (${reason})`, () => {
      expect(reasonOf(latin1(text))).toBe(reason)
    })
  }

  it('rejects a non-printable byte without waiting for the end of the line', () => {
    expect(reasonOf(latin1('PROXY TCP4 192.0.2.10\x00'))).toBe('malformed-line')
    expect(reasonOf(latin1('PROXY \xff'))).toBe('malformed-line')
    // but anything goes after "PROXY UNKNOWN".
    expect(reasonOf(latin1('PROXY UNKNOWN \x00\xff'))).toBe('incomplete')
  })

  it('rejects garbage from its first byte and waits on a prefix of "PROXY "', () => {
    expect(reasonOf(latin1('X'))).toBe('not-proxy-protocol')
    expect(reasonOf(latin1('PROXZ'))).toBe('not-proxy-protocol')
    expect(reasonOf(Buffer.alloc(0))).toBe('incomplete')
    expect(reasonOf(latin1('PROX'))).toBe('incomplete')
    expect(reasonOf(latin1('PROXY '))).toBe('incomplete')
  })

  it('error messages say what is wrong', () => {
    expect(() => parseProxyHeader(latin1('GET / HTTP/1.1\r\n'))).toThrow(/not a PROXY protocol header/)
    expect(() => parseProxyHeader(latin1('PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n'))).toThrow(
      /destination port "99999"/,
    )
  })
})

describe('parseProxyHeader v2', () => {
  it('parses TCP4 with TLVs', () => {
    const buf = Buffer.concat([
      hex(`${SIG} 21 11 001f c000020a c6336401 c822 01bb 01 0002 6832 02 000b 6578616d706c652e636f6d`),
      latin1('payload'),
    ])
    const { header, length } = parsed(buf)
    expect(length).toBe(16 + 31)
    expect(header).toEqual({
      version: 2,
      local: false,
      ...tcp4,
      tlvs: new Map([
        [0x01, Buffer.from('h2')],
        [0x02, Buffer.from('example.com')],
      ]),
    })
  })

  it('parses TCP6 and formats addresses as Node does', () => {
    const buf = hex(
      `${SIG} 21 21 0024 20010db8000000000000000000000001 00000000000000000000ffffc0000201 0001 ffff`,
    )
    expect(parsed(buf)).toEqual({
      header: { version: 2, local: false, ...tcp6, tlvs: new Map() },
      length: 52,
    })
  })

  it('LOCAL maps to UNKNOWN with local: true and ignores any addresses', () => {
    expect(parsed(encodeProxyV2Local())).toEqual({
      header: { version: 2, local: true, ...UNKNOWN_FIELDS, tlvs: new Map() },
      length: 16,
    })
    const withAddresses = v2(0x20, 0x11, Buffer.concat([TCP4_BLOCK, hex('04 0001 00')]))
    expect(parsed(withAddresses).header).toEqual({
      version: 2,
      local: true,
      ...UNKNOWN_FIELDS,
      tlvs: new Map([[0x04, Buffer.from([0])]]),
    })
  })

  it('PROXY with AF_UNSPEC maps to UNKNOWN and keeps its TLVs', () => {
    const { header } = parsed(hex(`${SIG} 21 00 0004 02 0001 61`))
    expect(header).toEqual({
      version: 2,
      local: false,
      ...UNKNOWN_FIELDS,
      tlvs: new Map([[0x02, Buffer.from('a')]]),
    })
  })

  it('UDP and UNIX families fall back to UNKNOWN: address block skipped, TLVs parsed', () => {
    const tlv = hex('02 0003 616263')
    for (const [family, size] of [
      [0x12, 12],
      [0x22, 36],
      [0x31, 216],
      [0x32, 216],
    ] as const) {
      const buf = v2(0x21, family, Buffer.concat([Buffer.alloc(size, 0x41), tlv]))
      const { header, length } = parsed(buf)
      expect(length).toBe(buf.length)
      expect(header).toEqual({
        version: 2,
        local: false,
        ...UNKNOWN_FIELDS,
        tlvs: new Map([[0x02, Buffer.from('abc')]]),
      })
      expect(reasonOf(v2(0x21, family, Buffer.alloc(size - 1)))).toBe('address-length')
    }
  })

  it('a repeated TLV type keeps the last value; empty values are fine', () => {
    const { header } = parsed(
      v2(0x21, 0x11, Buffer.concat([TCP4_BLOCK, hex('04 0000 04 0002 0102 e0 0000')])),
    )
    expect(header.tlvs).toEqual(
      new Map([
        [0x04, Buffer.from([1, 2])],
        [0xe0, Buffer.alloc(0)],
      ]),
    )
  })

  it('TLV values are copies, not views of the input', () => {
    const buf = v2(0x21, 0x11, Buffer.concat([TCP4_BLOCK, hex('02 0001 61')]))
    const { header } = parsed(buf)
    buf.fill(0)
    expect(header.tlvs.get(0x02)).toEqual(Buffer.from('a'))
  })

  it('is incremental: every prefix is incomplete, the whole header parses', () => {
    const buf = encodeProxyHeader(2, tcp6, { tlvs: [[0x02, Buffer.from('example.com')]] })
    for (let n = 0; n < buf.length; n++) expect(parseProxyHeader(buf.subarray(0, n))).toBe('incomplete')
    expect(parsed(buf).header.tlvs.get(0x02)).toEqual(Buffer.from('example.com'))
  })

  it('is detected from the signature before anything else', () => {
    expect(reasonOf(PROXY_V2_SIGNATURE.subarray(0, 1))).toBe('incomplete')
    expect(reasonOf(PROXY_V2_SIGNATURE)).toBe('incomplete')
    expect(reasonOf(hex(`${SIG} 21 11 00`))).toBe('incomplete')
    const wrong = Buffer.from(PROXY_V2_SIGNATURE)
    wrong[7] = 0x50
    expect(reasonOf(wrong.subarray(0, 8))).toBe('not-proxy-protocol')
    expect(reasonOf(hex('0d0a'))).toBe('incomplete')
    expect(reasonOf(hex('0d0d'))).toBe('not-proxy-protocol')
    expect(reasonOf(latin1('\r\n\r\nGET'))).toBe('not-proxy-protocol')
  })

  const malformed: [string, Buffer, ProxyProtocolErrorReason][] = [
    ['version 1 nibble', v2(0x11, 0x11, TCP4_BLOCK), 'unsupported-version'],
    ['version 3 nibble', v2(0x31, 0x11, TCP4_BLOCK), 'unsupported-version'],
    ['version 0 nibble', v2(0x01, 0x11, TCP4_BLOCK), 'unsupported-version'],
    ['command 2', v2(0x22, 0x11, TCP4_BLOCK), 'unsupported-command'],
    ['command 15', v2(0x2f, 0x11, TCP4_BLOCK), 'unsupported-command'],
    ['family 0x13', v2(0x21, 0x13, TCP4_BLOCK), 'unsupported-family'],
    ['family 0x01 (UNSPEC over STREAM)', v2(0x21, 0x01, Buffer.alloc(0)), 'unsupported-family'],
    ['family 0x10 (INET, UNSPEC protocol)', v2(0x21, 0x10, TCP4_BLOCK), 'unsupported-family'],
    ['family 0x41', v2(0x21, 0x41, TCP4_BLOCK), 'unsupported-family'],
    ['LOCAL with an invalid family', v2(0x20, 0x41, Buffer.alloc(0)), 'unsupported-family'],
    ['TCP4 block too short', v2(0x21, 0x11, TCP4_BLOCK.subarray(0, 11)), 'address-length'],
    ['TCP4 with length 0', v2(0x21, 0x11, Buffer.alloc(0)), 'address-length'],
    ['TCP6 block too short', v2(0x21, 0x21, Buffer.alloc(35)), 'address-length'],
    ['LOCAL TCP6 block too short', v2(0x20, 0x21, Buffer.alloc(12)), 'address-length'],
    [
      'TLV value overruns',
      v2(0x21, 0x11, Buffer.concat([TCP4_BLOCK, hex('02 000a 6162636465')])),
      'malformed-tlv',
    ],
    [
      'TLV value overruns by one',
      v2(0x21, 0x11, Buffer.concat([TCP4_BLOCK, hex('02 0002 61')])),
      'malformed-tlv',
    ],
    [
      '2 stray bytes after a TLV',
      v2(0x21, 0x11, Buffer.concat([TCP4_BLOCK, hex('02 0001 61 0400')])),
      'malformed-tlv',
    ],
    [
      '1 stray byte after the addresses',
      v2(0x21, 0x11, Buffer.concat([TCP4_BLOCK, hex('04')])),
      'malformed-tlv',
    ],
    ['stray bytes in UNSPEC', v2(0x21, 0x00, hex('0000')), 'malformed-tlv'],
  ]
  for (const [name, buf, reason] of malformed) {
    it(`rejects ${name} (${reason})`, () => {
      expect(reasonOf(buf)).toBe(reason)
    })
  }

  it('rejects bad fixed fields from the first 16 bytes, before the body arrives', () => {
    expect(reasonOf(hex(`${SIG} 11 11 000c`))).toBe('unsupported-version')
    expect(reasonOf(hex(`${SIG} 23 11 000c`))).toBe('unsupported-command')
    expect(reasonOf(hex(`${SIG} 21 14 000c`))).toBe('unsupported-family')
    expect(reasonOf(hex(`${SIG} 21 21 000c`))).toBe('address-length')
  })

  it(`caps the accepted size at ${PROXY_V2_MAX_ACCEPTED_LENGTH} bytes, checked from the first 16`, () => {
    const body = PROXY_V2_MAX_ACCEPTED_LENGTH - 16
    const atCap = encodeProxyHeader(2, tcp4, { tlvs: [[0x04, Buffer.alloc(body - 12 - 3)]] })
    expect(atCap.length).toBe(PROXY_V2_MAX_ACCEPTED_LENGTH)
    expect(parsed(atCap).length).toBe(PROXY_V2_MAX_ACCEPTED_LENGTH)
    const overCap = encodeProxyHeader(2, tcp4, { tlvs: [[0x04, Buffer.alloc(body - 12 - 3 + 1)]] })
    expect(reasonOf(overCap)).toBe('too-long')
    expect(reasonOf(overCap.subarray(0, 16))).toBe('too-long')
    expect(reasonOf(hex(`${SIG} 21 00 ffff`))).toBe('too-long')
  })
})

describe('round trips', () => {
  const tlvs = new Map([
    [0x01, Buffer.from('h2')],
    [0x02, Buffer.from('example.com')],
    [0xee, Buffer.alloc(300, 7)],
  ])
  const cases: [string, ProxyAddresses][] = [
    ['TCP4', tcp4],
    ['TCP6', tcp6],
    ['TCP4 zeros', { ...tcp4, sourceAddress: '0.0.0.0', sourcePort: 0, destinationPort: 0 }],
    [
      'TCP6 full',
      {
        ...tcp6,
        sourceAddress: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
        destinationAddress: '::',
      },
    ],
    ['TCP6 written non-canonically', { ...tcp6, sourceAddress: '2001:DB8:0:0:0:0:0:1' }],
  ]
  const canonical = (a: ProxyAddresses): ProxyAddresses =>
    a.sourceAddress === '2001:DB8:0:0:0:0:0:1' ? { ...a, sourceAddress: '2001:db8::1' } : a

  for (const [name, addresses] of cases) {
    it(`${name} via v1`, () => {
      const buf = encodeProxyHeader(1, addresses)
      expect(parsed(buf)).toEqual({
        header: { version: 1, local: false, ...canonical(addresses), tlvs: new Map() },
        length: buf.length,
      })
    })
    it(`${name} via v2, with and without TLVs`, () => {
      const plain = encodeProxyHeader(2, addresses)
      expect(parsed(plain)).toEqual({
        header: { version: 2, local: false, ...canonical(addresses), tlvs: new Map() },
        length: plain.length,
      })
      const rich = encodeProxyHeader(2, addresses, { tlvs })
      expect(parsed(rich)).toEqual({
        header: { version: 2, local: false, ...canonical(addresses), tlvs },
        length: rich.length,
      })
    })
  }

  it('UNKNOWN via v1 and v2, and LOCAL with TLVs', () => {
    const unknown: ProxyAddresses = { ...tcp4, family: 'UNKNOWN' }
    expect(parsed(encodeProxyHeader(1, unknown)).header).toEqual({
      version: 1,
      local: false,
      ...UNKNOWN_FIELDS,
      tlvs: new Map(),
    })
    expect(parsed(encodeProxyHeader(2, unknown, { tlvs })).header).toEqual({
      version: 2,
      local: false,
      ...UNKNOWN_FIELDS,
      tlvs,
    })
    expect(parsed(encodeProxyV2Local({ tlvs })).header).toEqual({
      version: 2,
      local: true,
      ...UNKNOWN_FIELDS,
      tlvs,
    })
  })
})

import { isFulcrumError } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import type { ProxyAddresses } from '../types.js'
import { encodeProxyHeader, encodeProxyV2Local } from './encode.js'
import { ProxyProtocolError, type ProxyProtocolErrorReason } from './errors.js'

const SIG = '0d0a0d0a000d0a515549540a'

const tcp4: ProxyAddresses = {
  family: 'TCP4',
  sourceAddress: '192.0.2.10',
  sourcePort: 51234,
  destinationAddress: '198.51.100.1',
  destinationPort: 443,
}

const tcp6: ProxyAddresses = {
  family: 'TCP6',
  sourceAddress: '2001:0DB8:0000:0000:0000:0000:0000:0001',
  sourcePort: 51234,
  destinationAddress: '::ffff:192.0.2.1',
  destinationPort: 443,
}

const unknown: ProxyAddresses = {
  family: 'UNKNOWN',
  sourceAddress: 'whatever',
  sourcePort: -1,
  destinationAddress: '',
  destinationPort: 99999,
}

/** Hex with whitespace stripped, so expectations can be laid out field by field. */
function hex(text: string): string {
  return text.replace(/\s+/g, '')
}

function reasonOf(fn: () => unknown): ProxyProtocolErrorReason | undefined {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ProxyProtocolError)
    expect(isFulcrumError(error)).toBe(true)
    expect((error as ProxyProtocolError).code).toBe('FULCRUM_ERR_PROXY_PROTOCOL')
    return (error as ProxyProtocolError).reason
  }
  return undefined
}

describe('encodeProxyHeader v1', () => {
  it('TCP4 is the exact text line', () => {
    expect(encodeProxyHeader(1, tcp4).toString('latin1')).toBe(
      'PROXY TCP4 192.0.2.10 198.51.100.1 51234 443\r\n',
    )
  })

  it('TCP6 writes the addresses in the canonical form Node reports', () => {
    expect(encodeProxyHeader(1, tcp6).toString('latin1')).toBe(
      'PROXY TCP6 2001:db8::1 ::ffff:192.0.2.1 51234 443\r\n',
    )
  })

  it('UNKNOWN is exactly "PROXY UNKNOWN\\r\\n" whatever the addresses', () => {
    expect(encodeProxyHeader(1, unknown).toString('latin1')).toBe('PROXY UNKNOWN\r\n')
  })

  it('accepts ports 0 and 65535', () => {
    const line = encodeProxyHeader(1, { ...tcp4, sourcePort: 0, destinationPort: 65535 }).toString('latin1')
    expect(line).toBe('PROXY TCP4 192.0.2.10 198.51.100.1 0 65535\r\n')
  })

  it('the longest TCP6 line stays within 107 bytes', () => {
    const full = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'
    const buf = encodeProxyHeader(1, {
      family: 'TCP6',
      sourceAddress: full,
      destinationAddress: full,
      sourcePort: 65535,
      destinationPort: 65535,
    })
    expect(buf.length).toBe(104)
  })

  it('cannot carry TLVs', () => {
    expect(reasonOf(() => encodeProxyHeader(1, tcp4, { tlvs: [[0x01, Buffer.from('h2')]] }))).toBe(
      'invalid-tlv',
    )
    expect(encodeProxyHeader(1, tcp4, { tlvs: new Map() }).toString('latin1')).toMatch(/^PROXY TCP4 /)
  })
})

describe('encodeProxyHeader v2', () => {
  it('TCP4 without TLVs', () => {
    expect(encodeProxyHeader(2, tcp4).toString('hex')).toBe(
      hex(`${SIG} 21 11 000c  c000020a c6336401  c822 01bb`),
    )
  })

  it('TCP4 with TLVs from a map, in insertion order', () => {
    const tlvs = new Map([
      [0x01, Buffer.from('h2')],
      [0x02, Buffer.from('example.com')],
    ])
    expect(encodeProxyHeader(2, tcp4, { tlvs }).toString('hex')).toBe(
      hex(`${SIG} 21 11 001f  c000020a c6336401  c822 01bb
        01 0002 6832
        02 000b 6578616d706c652e636f6d`),
    )
  })

  it('TLVs from an iterable of pairs keep repeats and allow empty values', () => {
    const tlvs: [number, Buffer][] = [
      [0x04, Buffer.alloc(0)],
      [0x04, Buffer.from([0, 0])],
    ]
    expect(encodeProxyHeader(2, tcp4, { tlvs }).toString('hex')).toBe(
      hex(`${SIG} 21 11 0014  c000020a c6336401  c822 01bb  04 0000  04 0002 0000`),
    )
  })

  it('TCP6 without TLVs', () => {
    expect(encodeProxyHeader(2, tcp6).toString('hex')).toBe(
      hex(`${SIG} 21 21 0024
        20010db8000000000000000000000001
        00000000000000000000ffffc0000201
        c822 01bb`),
    )
  })

  it('TCP6 with a TLV', () => {
    expect(encodeProxyHeader(2, tcp6, { tlvs: [[0xe0, Buffer.from([0xde, 0xad])]] }).toString('hex')).toBe(
      hex(`${SIG} 21 21 0029
        20010db8000000000000000000000001
        00000000000000000000ffffc0000201
        c822 01bb
        e0 0002 dead`),
    )
  })

  it('UNKNOWN is command PROXY with family AF_UNSPEC, no addresses, then the TLVs', () => {
    expect(encodeProxyHeader(2, unknown).toString('hex')).toBe(hex(`${SIG} 21 00 0000`))
    expect(encodeProxyHeader(2, unknown, { tlvs: [[0x02, Buffer.from('a')]] }).toString('hex')).toBe(
      hex(`${SIG} 21 00 0004 02 0001 61`),
    )
  })

  it('takes a Uint8Array view at its offset', () => {
    const backing = Buffer.from([9, 9, 0xab, 0xcd, 9])
    const view = backing.subarray(2, 4)
    expect(encodeProxyHeader(2, unknown, { tlvs: [[0x05, view]] }).toString('hex')).toBe(
      hex(`${SIG} 21 00 0005 05 0002 abcd`),
    )
  })

  it('fills the 16-bit length up to 65535 and refuses more', () => {
    const max = encodeProxyHeader(2, unknown, { tlvs: [[0x04, Buffer.alloc(65532)]] })
    expect(max.length).toBe(16 + 65535)
    expect(max.readUInt16BE(14)).toBe(65535)
    expect(reasonOf(() => encodeProxyHeader(2, unknown, { tlvs: [[0x04, Buffer.alloc(65533)]] }))).toBe(
      'too-long',
    )
    expect(reasonOf(() => encodeProxyHeader(2, tcp4, { tlvs: [[0x04, Buffer.alloc(65521)]] }))).toBe(
      'too-long',
    )
  })
})

describe('encodeProxyV2Local', () => {
  it('is the fixed 16-byte LOCAL header', () => {
    expect(encodeProxyV2Local().toString('hex')).toBe(hex(`${SIG} 20 00 0000`))
  })

  it('can carry TLVs', () => {
    expect(encodeProxyV2Local({ tlvs: new Map([[0x04, Buffer.from([0, 0, 0])]]) }).toString('hex')).toBe(
      hex(`${SIG} 20 00 0006 04 0003 000000`),
    )
  })

  it('returns a fresh buffer every time', () => {
    const a = encodeProxyV2Local()
    a[12] = 0
    expect(encodeProxyV2Local()[12]).toBe(0x20)
  })
})

describe('encodeProxyHeader validation', () => {
  const cases: [string, ProxyAddresses, ProxyProtocolErrorReason][] = [
    ['IPv6 source in TCP4', { ...tcp4, sourceAddress: '::1' }, 'family-mismatch'],
    ['IPv4-mapped IPv6 in TCP4', { ...tcp4, destinationAddress: '::ffff:192.0.2.1' }, 'family-mismatch'],
    ['IPv4 destination in TCP6', { ...tcp6, destinationAddress: '192.0.2.1' }, 'family-mismatch'],
    ['IPv4 octet out of range', { ...tcp4, sourceAddress: '192.0.2.256' }, 'invalid-address'],
    ['IPv4 leading zero', { ...tcp4, sourceAddress: '192.0.2.010' }, 'invalid-address'],
    ['IPv4 with 3 octets', { ...tcp4, sourceAddress: '192.0.2' }, 'invalid-address'],
    ['host name', { ...tcp4, sourceAddress: 'localhost' }, 'invalid-address'],
    ['empty address', { ...tcp6, sourceAddress: '' }, 'invalid-address'],
    ['IPv6 zone id', { ...tcp6, sourceAddress: 'fe80::1%eth0' }, 'invalid-address'],
    ['IPv6 bad group', { ...tcp6, sourceAddress: '2001:db8::g' }, 'invalid-address'],
    [
      'IPv6 with embedded IPv4 leading zero',
      { ...tcp6, sourceAddress: '::ffff:1.2.3.04' },
      'invalid-address',
    ],
    ['negative port', { ...tcp4, sourcePort: -1 }, 'invalid-port'],
    ['port 65536', { ...tcp4, destinationPort: 65536 }, 'invalid-port'],
    ['fractional port', { ...tcp6, sourcePort: 1.5 }, 'invalid-port'],
    ['NaN port', { ...tcp6, destinationPort: Number.NaN }, 'invalid-port'],
    ['unknown family', { ...tcp4, family: 'UDP4' as never }, 'unsupported-family'],
  ]
  for (const [name, addresses, reason] of cases) {
    it(`${name} → ${reason} (v1 and v2)`, () => {
      expect(reasonOf(() => encodeProxyHeader(1, addresses))).toBe(reason)
      expect(reasonOf(() => encodeProxyHeader(2, addresses))).toBe(reason)
    })
  }

  it('rejects bad TLV types and values', () => {
    expect(reasonOf(() => encodeProxyHeader(2, tcp4, { tlvs: [[256, Buffer.alloc(0)]] }))).toBe('invalid-tlv')
    expect(reasonOf(() => encodeProxyHeader(2, tcp4, { tlvs: [[-1, Buffer.alloc(0)]] }))).toBe('invalid-tlv')
    expect(reasonOf(() => encodeProxyHeader(2, tcp4, { tlvs: [[1.5, Buffer.alloc(0)]] }))).toBe('invalid-tlv')
    expect(reasonOf(() => encodeProxyHeader(2, tcp4, { tlvs: [[1, 'h2' as never]] }))).toBe('invalid-tlv')
    expect(reasonOf(() => encodeProxyV2Local({ tlvs: [[1, Buffer.alloc(65536)]] }))).toBe('invalid-tlv')
  })

  it('rejects versions other than 1 and 2', () => {
    expect(reasonOf(() => encodeProxyHeader(3 as never, tcp4))).toBe('unsupported-version')
  })

  it('messages name the field', () => {
    expect(() => encodeProxyHeader(1, { ...tcp4, destinationPort: 70000 })).toThrow(/destinationPort 70000/)
  })
})

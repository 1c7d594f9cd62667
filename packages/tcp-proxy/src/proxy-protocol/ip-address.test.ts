import { SocketAddress } from 'node:net'
import { describe, expect, it } from 'vitest'
import { canonicalIPv6, formatIPv4, formatIPv6, isStrictIPv4, isStrictIPv6, writeIPv6 } from './ip-address.js'

/** Node's own formatting of an IPv6 literal (libuv inet_ntop), the reference for ours. */
function nodeForm(text: string): string {
  return new SocketAddress({ address: text, family: 'ipv6' }).address
}

/** Small deterministic PRNG (mulberry32) so the fuzz cases are reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('strict IP validation', () => {
  it('IPv4 rejects leading zeros, out-of-range octets and short forms', () => {
    for (const ok of ['0.0.0.0', '10.0.0.1', '255.255.255.255', '192.0.2.100'])
      expect(isStrictIPv4(ok)).toBe(true)
    for (const bad of [
      '010.0.0.1',
      '1.2.3.00',
      '256.0.0.1',
      '1.2.3',
      '1.2.3.4.5',
      ' 1.2.3.4',
      '1.2.3.4 ',
      '0x1.2.3.4',
      '',
    ]) {
      expect(isStrictIPv4(bad)).toBe(false)
    }
  })

  it('IPv6 rejects zone ids and IPv4 tails with leading zeros', () => {
    for (const ok of ['::', '::1', '2001:db8::1', '2001:DB8::1', '::ffff:192.0.2.1', '1:2:3:4:5:6:7:8']) {
      expect(isStrictIPv6(ok)).toBe(true)
    }
    for (const bad of [
      'fe80::1%eth0',
      '::ffff:192.0.2.01',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      'g::1',
      '192.0.2.1',
      '',
    ]) {
      expect(isStrictIPv6(bad)).toBe(false)
    }
  })
})

describe('IPv6 formatting matches Node', () => {
  const samples = [
    '::',
    '::1',
    '::2',
    '1::',
    '2001:0DB8:0:0:0:0:0:0001',
    '::ffff:1.2.3.4',
    '::ffff:102:304',
    '::1.2.3.4',
    '::0.1.0.0',
    '::ffff:0:1.2.3.4',
    '::ffff:0.0.0.0',
    '1:0:0:2:0:0:0:3',
    '1:0:0:2:0:0:3:4',
    '0:0:0:0:0:1:0:0',
    '1:2:3:4:5:6:7::',
    '1:0:2:3:4:5:6:7',
    'fe80::abcd:ef01:2345:6789',
    'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  ]
  for (const text of samples) {
    it(`${text} → ${nodeForm(text)}`, () => {
      expect(canonicalIPv6(text)).toBe(nodeForm(text))
    })
  }

  it('random addresses with zero runs, written in many spellings, agree with Node', () => {
    const random = prng(0x5eed)
    for (let n = 0; n < 5000; n++) {
      const words: number[] = []
      for (let i = 0; i < 8; i++) {
        const r = random()
        words.push(r < 0.45 ? 0 : r < 0.5 ? 0xffff : r < 0.55 ? 1 : Math.floor(random() * 0x10000))
      }
      const full = words.map((w) => w.toString(16).padStart(4, '0')).join(':')
      const bytes = Buffer.alloc(16)
      writeIPv6(full, bytes, 0)
      expect(bytes.toString('hex')).toBe(full.replaceAll(':', ''))
      const expected = nodeForm(full)
      expect(formatIPv6(bytes, 0)).toBe(expected)
      // Re-reading the canonical form gives the same bytes back.
      const again = Buffer.alloc(16)
      writeIPv6(expected, again, 0)
      expect(again.equals(bytes)).toBe(true)
      expect(canonicalIPv6(full.toUpperCase())).toBe(expected)
    }
  })

  it('formats IPv4 bytes at an offset', () => {
    expect(formatIPv4(Buffer.from([9, 192, 0, 2, 1]), 1)).toBe('192.0.2.1')
  })
})

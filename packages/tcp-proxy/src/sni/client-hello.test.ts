import * as net from 'node:net'
import * as tls from 'node:tls'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { INCOMPLETE, MAX_CLIENT_HELLO_BYTES, parseClientHelloServerName } from './client-hello.js'
import { SniError, type SniErrorReason } from './errors.js'

// ---------------------------------------------------------------------------------------------
// Capturing real ClientHellos from node:tls clients on loopback.

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

/** Starts a raw TCP server, connects a node:tls client to it and returns the first TLS record it sends. */
async function captureClientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer()
  cleanups.push(() => server.close())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  return new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no ClientHello within 5 s')), 5_000)
    cleanups.push(() => clearTimeout(timer))
    server.once('connection', (socket) => {
      cleanups.push(() => socket.destroy())
      let buf = Buffer.alloc(0)
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk])
        if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
          clearTimeout(timer)
          resolve(buf.subarray(0, 5 + buf.readUInt16BE(3)))
          socket.destroy()
        }
      })
    })
    const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options })
    client.on('error', () => {})
    cleanups.push(() => client.destroy())
  })
}

const LONG_NAME = [`${'a'.repeat(62)}1`, 'b'.repeat(63), 'c'.repeat(63), `${'d'.repeat(56)}.test`].join('.')

const CAPTURES: readonly { label: string; options: tls.ConnectionOptions; expected: string | undefined }[] = [
  {
    label: 'servername a.example.test',
    options: { servername: 'a.example.test' },
    expected: 'a.example.test',
  },
  { label: 'no servername', options: {}, expected: undefined },
  { label: 'a 253-byte name', options: { servername: LONG_NAME }, expected: LONG_NAME },
  {
    label: 'TLS 1.2 only',
    options: { servername: 'tls12.example.test', maxVersion: 'TLSv1.2' },
    expected: 'tls12.example.test',
  },
  {
    label: 'TLS 1.3 only',
    options: { servername: 'tls13.example.test', minVersion: 'TLSv1.3' },
    expected: 'tls13.example.test',
  },
  {
    label: 'ALPN h2 + http/1.1',
    options: { servername: 'alpn.example.test', ALPNProtocols: ['h2', 'http/1.1'] },
    expected: 'alpn.example.test',
  },
  {
    label: 'TLS 1.2, no SNI, ALPN',
    options: { maxVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] },
    expected: undefined,
  },
]

// ---------------------------------------------------------------------------------------------
// Building and reshaping ClientHellos byte by byte.

const u16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff])
const u24 = (n: number): Buffer => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff])

function record(fragment: Buffer, type = 22, version = 0x0301): Buffer {
  return Buffer.concat([Buffer.from([type]), u16(version), u16(fragment.length), fragment])
}

function extension(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(data.length), data])
}

function serverNameExtension(entries: readonly (readonly [number, Buffer | string])[]): Buffer {
  const list = Buffer.concat(
    entries.map(([type, name]) => {
      const bytes = typeof name === 'string' ? Buffer.from(name, 'latin1') : name
      return Buffer.concat([Buffer.from([type]), u16(bytes.length), bytes])
    }),
  )
  return extension(0, Buffer.concat([u16(list.length), list]))
}

/** A minimal ClientHello handshake message (header included) with these extensions (none: no extensions block). */
function handshake(extensions?: readonly Buffer[]): Buffer {
  const exts = extensions === undefined ? [] : [u16(Buffer.concat(extensions).length), ...extensions]
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 0xab),
    Buffer.from([0]),
    u16(4),
    Buffer.from([0x13, 0x01, 0x13, 0x02]),
    Buffer.from([1, 0]),
    ...exts,
  ])
  return Buffer.concat([Buffer.from([1]), u24(body.length), body])
}

const hello = (extensions?: readonly Buffer[]): Buffer => record(handshake(extensions))
const helloFor = (name: string): Buffer =>
  hello([extension(0x2b, Buffer.from([2, 3, 4])), serverNameExtension([[0, name]])])

/** The handshake bytes carried by the records of `buf` (one ClientHello). */
function handshakeBytes(buf: Buffer): Buffer {
  const parts: Buffer[] = []
  for (let p = 0; p + 5 <= buf.length; p += 5 + buf.readUInt16BE(p + 3))
    parts.push(buf.subarray(p + 5, p + 5 + buf.readUInt16BE(p + 3)))
  return Buffer.concat(parts)
}

/** Re-frames the ClientHello in `buf` into records whose fragments have the sizes in `sizes` (cycled). */
function refragment(buf: Buffer, sizes: readonly number[]): Buffer {
  const hs = handshakeBytes(buf)
  const records: Buffer[] = []
  for (let p = 0, i = 0; p < hs.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, hs.length - p)
    records.push(record(hs.subarray(p, p + n)))
    p += n
  }
  return Buffer.concat(records)
}

/** Offsets of the fields of a single-record ClientHello. */
function layout(buf: Buffer) {
  const hs = 5
  const body = hs + 4
  const sid = body + 34
  const suites = sid + 1 + buf[sid]!
  const compression = suites + 2 + buf.readUInt16BE(suites)
  const extensions = compression + 1 + buf[compression]!
  const found: Record<number, number> = {}
  const end = 5 + buf.readUInt16BE(3)
  for (let p = extensions + 2; p < end; p += 4 + buf.readUInt16BE(p + 2)) found[buf.readUInt16BE(p)] = p
  return { hs, body, sid, suites, compression, extensions, ext: found }
}

function patched(buf: Buffer, edit: (b: Buffer) => void): Buffer {
  const copy = Buffer.from(buf)
  edit(copy)
  return copy
}

function reasonOf(buf: Buffer): SniErrorReason | 'no throw' {
  try {
    parseClientHelloServerName(buf)
    return 'no throw'
  } catch (err) {
    expect(err).toBeInstanceOf(SniError)
    expect((err as SniError).code).toBe('FULCRUM_ERR_TLS_CLIENT_HELLO')
    return (err as SniError).reason
  }
}

/** Every strict prefix of `buf` must be INCOMPLETE. */
function expectPrefixesIncomplete(buf: Buffer): void {
  for (let i = 0; i < buf.length; i++) {
    const result = parseClientHelloServerName(buf.subarray(0, i))
    if (result !== INCOMPLETE) expect.fail(`prefix of ${i}/${buf.length} bytes gave ${String(result)}`)
  }
}

// ---------------------------------------------------------------------------------------------

describe('parseClientHelloServerName on real node:tls ClientHellos', () => {
  const captured = new Map<string, Buffer>()
  beforeAll(async () => {
    for (const c of CAPTURES) captured.set(c.label, await captureClientHello(c.options))
  })

  it('uses a 253-byte name', () => expect(LONG_NAME.length).toBe(253))

  for (const c of CAPTURES) {
    describe(c.label, () => {
      const get = (): Buffer => captured.get(c.label)!

      it('returns the server name (or undefined)', () => {
        expect(get()[0]).toBe(22)
        expect(parseClientHelloServerName(get())).toBe(c.expected)
      })

      it('returns INCOMPLETE for every strict prefix, never an answer or a throw', () => {
        expectPrefixesIncomplete(get())
      })

      it('ignores bytes after the ClientHello', () => {
        const more = Buffer.concat([get(), record(Buffer.from([1]), 20), Buffer.from('early data')])
        expect(parseClientHelloServerName(more)).toBe(c.expected)
      })

      it('reassembles a ClientHello fragmented across records, prefixes included', () => {
        for (const sizes of [[1], [3], [4, 1], [7, 100], [200]]) {
          const fragmented = refragment(get(), sizes)
          expect(parseClientHelloServerName(fragmented)).toBe(c.expected)
          expectPrefixesIncomplete(fragmented)
        }
      })
    })
  }

  it('lower-cases a name sent in upper case', async () => {
    const buf = await captureClientHello({ servername: 'Mixed.Example.TEST' })
    expect(parseClientHelloServerName(buf)).toBe('mixed.example.test')
  })
})

describe('parseClientHelloServerName rejects corrupted ClientHellos', () => {
  let real: Buffer
  beforeAll(async () => {
    real = await captureClientHello({ servername: 'a.example.test', ALPNProtocols: ['h2'] })
  })
  const L = () => layout(real)

  const cases: readonly [string, (b: Buffer) => void, SniErrorReason][] = [
    ['record length 0', (b) => b.writeUInt16BE(0, 3), 'malformed'],
    ['record length above 2^14', (b) => b.writeUInt16BE(16_385, 3), 'malformed'],
    ['record version 3.9', (b) => (b[2] = 9), 'malformed'],
    ['record version 2.x', (b) => (b[1] = 2), 'not-tls'],
    ['handshake type ServerHello', (b) => (b[5] = 2), 'malformed'],
    ['handshake length below the minimum', (b) => b.writeUIntBE(40, 6, 3), 'malformed'],
    ['handshake length beyond the cap', (b) => b.writeUIntBE(16_381, 6, 3), 'too-large'],
    ['handshake length one short', (b) => b.writeUIntBE(b.readUIntBE(6, 3) - 1, 6, 3), 'malformed'],
    ['client version major 2', (b) => (b[L().body] = 2), 'malformed'],
    ['session id length 33', (b) => (b[L().sid] = 33), 'malformed'],
    [
      'odd cipher suites length',
      (b) => b.writeUInt16BE(b.readUInt16BE(L().suites) - 1, L().suites),
      'malformed',
    ],
    ['zero cipher suites length', (b) => b.writeUInt16BE(0, L().suites), 'malformed'],
    ['cipher suites overrunning', (b) => b.writeUInt16BE(0xfffe, L().suites), 'malformed'],
    ['zero compression methods', (b) => (b[L().compression] = 0), 'malformed'],
    ['compression methods overrunning', (b) => (b[L().compression] = 255), 'malformed'],
    [
      'extensions length + 1',
      (b) => b.writeUInt16BE(b.readUInt16BE(L().extensions) + 1, L().extensions),
      'malformed',
    ],
    [
      'extensions length − 1',
      (b) => b.writeUInt16BE(b.readUInt16BE(L().extensions) - 1, L().extensions),
      'malformed',
    ],
    [
      'ALPN extension length + 1',
      (b) => b.writeUInt16BE(b.readUInt16BE(L().ext[16]! + 2) + 1, L().ext[16]! + 2),
      'malformed',
    ],
    [
      'server_name extension length + 1',
      (b) => b.writeUInt16BE(b.readUInt16BE(L().ext[0]! + 2) + 1, L().ext[0]! + 2),
      'malformed',
    ],
    [
      'server name list length + 1',
      (b) => b.writeUInt16BE(b.readUInt16BE(L().ext[0]! + 4) + 1, L().ext[0]! + 4),
      'malformed',
    ],
    [
      'server name list length − 1',
      (b) => b.writeUInt16BE(b.readUInt16BE(L().ext[0]! + 4) - 1, L().ext[0]! + 4),
      'malformed',
    ],
    [
      'host name length + 1',
      (b) => b.writeUInt16BE(b.readUInt16BE(L().ext[0]! + 7) + 1, L().ext[0]! + 7),
      'malformed',
    ],
    [
      'host name length − 1',
      (b) => b.writeUInt16BE(b.readUInt16BE(L().ext[0]! + 7) - 1, L().ext[0]! + 7),
      'malformed',
    ],
    ['host name length 0', (b) => b.writeUInt16BE(0, L().ext[0]! + 7), 'malformed'],
    ['a control byte in the host name', (b) => (b[L().ext[0]! + 10] = 0), 'invalid-name'],
  ]
  for (const [label, edit, reason] of cases) {
    it(`${label} → SniError ${reason}`, () => {
      expect(L().ext[0]).toBeDefined()
      expect(reasonOf(patched(real, edit))).toBe(reason)
    })
  }

  it('a record length promising more bytes stays INCOMPLETE until they come', () => {
    const longer = patched(real, (b) => {
      b.writeUInt16BE(b.readUInt16BE(3) + 10, 3)
      b.writeUIntBE(b.readUIntBE(6, 3) + 10, 6, 3)
    })
    expect(parseClientHelloServerName(longer)).toBe(INCOMPLETE)
  })

  it('a non-handshake record inside a fragmented ClientHello → malformed', () => {
    const fragmented = refragment(real, [50])
    const alert = patched(fragmented, (b) => (b[55] = 21))
    expect(reasonOf(alert)).toBe('malformed')
    expect(reasonOf(patched(fragmented, (b) => (b[56] = 2)))).toBe('malformed')
  })

  it('a ClientHello needing more than MAX_CLIENT_HELLO_BYTES → too-large, as soon as it is known', () => {
    // 1-byte fragments: the record headers alone push it past the cap, long before it completes.
    const big = handshake([extension(0xfafa, Buffer.alloc(3_000))])
    const fragmented = refragment(record(big), [1])
    expect(fragmented.length).toBeGreaterThan(MAX_CLIENT_HELLO_BYTES)
    expect(reasonOf(fragmented.subarray(0, MAX_CLIENT_HELLO_BYTES + 6))).toBe('too-large')
    expect(parseClientHelloServerName(fragmented.subarray(0, MAX_CLIENT_HELLO_BYTES - 6))).toBe(INCOMPLETE)
    // A maximal single record is fine.
    const padding = 16_384 - handshake([serverNameExtension([[0, 'max.example.test']])]).length - 4
    const maximal = hello([
      serverNameExtension([[0, 'max.example.test']]),
      extension(21, Buffer.alloc(padding)),
    ])
    expect(maximal.length).toBe(MAX_CLIENT_HELLO_BYTES)
    expect(parseClientHelloServerName(maximal)).toBe('max.example.test')
  })

  it('survives random corruption: only SniError or a valid lower-case name, never another exception', () => {
    let seed = 0x2545f491
    const rand = (n: number): number => {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0
      return (seed >>> 0) % n
    }
    const tally = { name: 0, none: 0, incomplete: 0, error: 0 }
    for (let round = 0; round < 3_000; round++) {
      const buf = Buffer.from(real)
      for (let k = 0, flips = 1 + rand(3); k < flips; k++) buf[rand(buf.length)] = rand(256)
      const cut = rand(4) === 0 ? buf.subarray(0, rand(buf.length)) : buf
      try {
        const r = parseClientHelloServerName(cut)
        if (r === INCOMPLETE) tally.incomplete++
        else if (r === undefined) tally.none++
        else {
          expect(r).toMatch(/^[a-z0-9.-]+$/)
          tally.name++
        }
      } catch (err) {
        if (!(err instanceof SniError)) throw err
        tally.error++
      }
    }
    expect(tally.error).toBeGreaterThan(0)
    expect(tally.name).toBeGreaterThan(0)
  })
})

describe('parseClientHelloServerName on non-TLS and odd input', () => {
  it('rejects plain HTTP and SSLv2 as not-tls, from the first byte', () => {
    expect(reasonOf(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n'))).toBe('not-tls')
    expect(reasonOf(Buffer.from('G'))).toBe('not-tls')
    expect(reasonOf(Buffer.from([0x80, 0x2e, 0x01, 0x00, 0x02]))).toBe('not-tls')
    expect(reasonOf(Buffer.from([22, 2]))).toBe('not-tls')
    expect(reasonOf(Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'))).toBe('not-tls')
  })

  it('needs more bytes for an empty buffer and a bare record type', () => {
    expect(parseClientHelloServerName(Buffer.alloc(0))).toBe(INCOMPLETE)
    expect(parseClientHelloServerName(Buffer.from([22]))).toBe(INCOMPLETE)
    expect(parseClientHelloServerName(Buffer.from([22, 3, 1]))).toBe(INCOMPLETE)
  })

  it('accepts a ClientHello without extensions and one with no server_name', () => {
    expect(parseClientHelloServerName(hello())).toBeUndefined()
    expect(parseClientHelloServerName(hello([extension(0x2b, Buffer.from([2, 3, 4]))]))).toBeUndefined()
    expect(parseClientHelloServerName(hello([]))).toBeUndefined()
  })

  it('skips name types other than host_name and refuses two host_names or two server_name extensions', () => {
    const other = serverNameExtension([[7, 'x']])
    expect(parseClientHelloServerName(hello([other]))).toBeUndefined()
    expect(
      parseClientHelloServerName(
        hello([
          serverNameExtension([
            [7, 'x'],
            [0, 'b.example.test'],
          ]),
        ]),
      ),
    ).toBe('b.example.test')
    expect(
      reasonOf(
        hello([
          serverNameExtension([
            [0, 'a.test'],
            [0, 'b.test'],
          ]),
        ]),
      ),
    ).toBe('malformed')
    expect(
      reasonOf(hello([serverNameExtension([[0, 'a.test']]), serverNameExtension([[0, 'a.test']])])),
    ).toBe('malformed')
    expect(reasonOf(hello([extension(0, Buffer.alloc(0))]))).toBe('malformed')
    expect(reasonOf(hello([extension(0, u16(0))]))).toBe('malformed')
  })

  it('accepts valid DNS host names and lower-cases them', () => {
    for (const name of [
      'localhost',
      'a-b.c',
      '0a.example.com',
      'xn--bcher-kva.example',
      'x'.repeat(63),
      LONG_NAME,
    ])
      expect(parseClientHelloServerName(helloFor(name))).toBe(name)
    expect(parseClientHelloServerName(helloFor('WWW.Example.COM'))).toBe('www.example.com')
    expect(parseClientHelloServerName(helloFor('incomplete'))).toBe('incomplete') // not the INCOMPLETE symbol
  })

  it('rejects names that are not DNS host names', () => {
    const bad = [
      'a..b',
      '.a.b',
      'a.b.',
      '-a.com',
      'a-.com',
      'a_b.com',
      'a b.com',
      '1.2.3.4',
      '::1',
      '[::1]',
      'a\0.com',
      'x'.repeat(64),
      `${LONG_NAME}a`,
      '*.example.com',
    ]
    for (const name of bad) expect(reasonOf(helloFor(name)), JSON.stringify(name)).toBe('invalid-name')
    expect(reasonOf(hello([serverNameExtension([[0, Buffer.from('bücher.example', 'utf8')]])]))).toBe(
      'invalid-name',
    )
  })

  it('handles a handshake header split across records', () => {
    const buf = refragment(helloFor('split.example.test'), [1, 2, 1, 500])
    expect(parseClientHelloServerName(buf)).toBe('split.example.test')
    expectPrefixesIncomplete(buf)
  })
})

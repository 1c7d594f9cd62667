/**
 * Hop-by-hop fields (RFC 9110 §7.6.1): the gateway removes Connection, every field Connection
 * nominates and the fields known to be hop-by-hop, both ways; it re-frames bodies instead of passing
 * Transfer-Encoding on; and it serves an h2c upgrade request as plain HTTP/1.1 (RFC 9110 §7.8 lets
 * a server ignore Upgrade; RFC 9113 §3.1 retired h2c upgrades).
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  combined,
  curl,
  HOST,
  HttpHarness,
  hasCurl,
  members,
  names,
  noConnections,
  type Seen,
  sleep,
  values,
  wire,
} from './http-helpers.js'

const h = new HttpHarness()
afterEach(() => h.closeAll())

const CURL = await hasCurl()
const lower = (list: readonly string[]) => list.map((s) => s.toLowerCase())

function expectNoClientHopByHop(seen: Seen): void {
  const got = names(seen.rawHeaders)
  for (const name of [
    'x-secret',
    'x-other-secret',
    'proxy-connection',
    'te',
    'trailer',
    'upgrade',
    'http2-settings',
  ])
    expect(got, `backend must not see ${name}`).not.toContain(name)
  // the gateway may send its own Connection / Keep-Alive on its hop, never the client's
  expect(lower(members(seen.rawHeaders, 'connection'))).not.toContain('x-secret')
  expect(lower(members(seen.rawHeaders, 'connection'))).not.toContain('x-other-secret')
  for (const v of values(seen.rawHeaders, 'keep-alive')) expect(v).not.toContain('max=7')
}

describe('hop-by-hop fields, request side', { timeout: 10_000 }, () => {
  it('drops Connection, the fields it nominates, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade and HTTP2-Settings', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const { response } = await h.rawOnce(
      g.port,
      wire([
        'GET /hop HTTP/1.1',
        `Host: ${HOST}:${g.port}`,
        'Connection: keep-alive, X-Secret, x-OTHER-secret',
        'X-Secret: s1',
        'X-Other-Secret: s2',
        'Keep-Alive: timeout=99, max=7',
        'Proxy-Connection: keep-alive',
        'TE: gzip;q=0.5',
        'Trailer: X-Checksum',
        // without an "upgrade" connection option: not an upgrade, just a field to drop
        'Upgrade: example/1',
        'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA',
        'X-Kept: yes',
      ]),
    )
    expect(response.status).toBe(200)
    expect(b.requests).toHaveLength(1)
    const seen = b.requests[0]!
    expect(seen.url).toBe('/hop')
    expectNoClientHopByHop(seen)
    expect(values(seen.rawHeaders, 'x-kept')).toEqual(['yes'])
  })

  it('honours options spread over several Connection lines, case-insensitively, and still closes on "close"', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const { response, client } = await h.rawOnce(
      g.port,
      wire([
        'GET /close HTTP/1.1',
        `Host: ${HOST}:${g.port}`,
        'Connection: close, X-Secret',
        'Connection: X-OTHER-SECRET',
        'X-Secret: s1',
        'x-other-secret: s2',
        'X-Kept: yes',
      ]),
    )
    expect(response.status).toBe(200)
    const seen = b.requests[0]!
    expectNoClientHopByHop(seen)
    expect(values(seen.rawHeaders, 'x-kept')).toEqual(['yes'])
    // RFC 9112 §9.6: a server that receives "close" closes the connection after its response
    expect(await client.waitEnded(3_000)).toBe(true)
  })

  it('keeps "TE: trailers"', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const r = await h.nodeRequest(g.port, { path: '/te', headers: ['TE', 'trailers'] })
    expect(r.status).toBe(200)
    expect(lower(members(b.requests[0]!.rawHeaders, 'te'))).toEqual(['trailers'])
  })

  it('re-frames a chunked body: the content arrives intact, with one framing of the gateway’s own', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const { response } = await h.rawOnce(
      g.port,
      wire(
        ['POST /chunked HTTP/1.1', `Host: ${HOST}:${g.port}`, 'Transfer-Encoding: chunked'],
        '3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n',
      ),
    )
    expect(response.status).toBe(200)
    const seen = b.requests[0]!
    expect(seen.body.toString()).toBe('abcdefg')
    const te = lower(members(seen.rawHeaders, 'transfer-encoding'))
    const cl = values(seen.rawHeaders, 'content-length')
    // either Content-Length: 7 or a single "chunked", never both (RFC 9112 §6.2)
    if (te.length > 0) {
      expect(te).toEqual(['chunked'])
      expect(cl).toEqual([])
    } else expect(cl).toEqual(['7'])
  })

  const nominating = (port: number) =>
    wire([
      'GET /nominated HTTP/1.1',
      `Host: app.example:${port}`,
      'Connection: keep-alive, X-Forwarded-For, Via',
      'X-Forwarded-For: 6.6.6.6',
      'Via: 1.0 evil',
    ])

  it.each([false, true])(
    'a client’s "Connection: X-Forwarded-For, Via" does not remove the fields the gateway adds (trustProxy %s)',
    async (trustProxy) => {
      const b = await h.backend()
      const g = await h.gateway([b], { trustProxy })
      const { response } = await h.rawOnce(g.port, nominating(g.port))
      expect(response.status).toBe(200)
      const seen = b.requests[0]!
      expect(members(seen.rawHeaders, 'x-forwarded-for').at(-1)).toBe('127.0.0.1')
      expect(members(seen.rawHeaders, 'via').at(-1)).toBe('1.1 fulcrum')
      expect(values(seen.rawHeaders, 'x-forwarded-proto')).toHaveLength(1)
      expect(values(seen.rawHeaders, 'x-forwarded-host')).toHaveLength(1)
    },
  )

  it.each([false, true])(
    'the client’s own X-Forwarded-For and Via it nominated in Connection are removed (trustProxy %s)',
    async (trustProxy) => {
      const b = await h.backend()
      const g = await h.gateway([b], { trustProxy })
      await h.rawOnce(g.port, nominating(g.port))
      const seen = b.requests[0]!
      // RFC 9110 §7.6.1: remove every field a connection-option names, then add the gateway's own
      expect(members(seen.rawHeaders, 'x-forwarded-for')).toEqual(['127.0.0.1'])
      expect(members(seen.rawHeaders, 'via')).toEqual(['1.1 fulcrum'])
    },
  )
})

describe('hop-by-hop fields, response side', { timeout: 10_000 }, () => {
  it('drops the backend’s Connection, what it nominates, Keep-Alive, Proxy-Connection and Upgrade', async () => {
    const b = await h.backend((_req, res) => {
      res.writeHead(200, [
        'Connection',
        'x-internal, X-Also',
        'X-Internal',
        'secret',
        'X-Also',
        'secret-2',
        'Keep-Alive',
        'timeout=99, max=7',
        'Proxy-Connection',
        'keep-alive',
        'Upgrade',
        'example/2',
        'X-Public',
        'yes',
        'Content-Type',
        'text/plain',
        'Content-Length',
        '2',
      ])
      res.end('ok')
    })
    const g = await h.gateway([b])
    const r = await h.nodeRequest(g.port, { path: '/response-hop' })
    expect(r.status).toBe(200)
    expect(r.body.toString()).toBe('ok')
    const got = names(r.rawHeaders)
    for (const name of ['x-internal', 'x-also', 'proxy-connection', 'upgrade'])
      expect(got, `client must not see ${name}`).not.toContain(name)
    expect(lower(members(r.rawHeaders, 'connection'))).not.toContain('x-internal')
    for (const v of values(r.rawHeaders, 'keep-alive')) expect(v).not.toContain('max=7')
    expect(values(r.rawHeaders, 'x-public')).toEqual(['yes'])
    expect(combined(r.rawHeaders, 'content-type')).toBe('text/plain')
  })

  it('re-frames a chunked response for the client (one framing, content intact)', async () => {
    const b = await h.backend((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }) // no length: node sends it chunked
      res.write('one,')
      setTimeout(() => res.end('two'), 10)
    })
    const g = await h.gateway([b])
    const { response } = await h.rawOnce(
      g.port,
      wire(['GET /chunked-out HTTP/1.1', `Host: ${HOST}:${g.port}`]),
    )
    expect(response.status).toBe(200)
    expect(response.body.toString()).toBe('one,two')
    const te = lower(members(response.rawHeaders, 'transfer-encoding'))
    if (te.length > 0) expect(values(response.rawHeaders, 'content-length')).toEqual([])
  })
})

describe('h2c upgrade requests are served as HTTP/1.1', { timeout: 10_000 }, () => {
  const h2cHead = (port: number, method: string, path: string, extra: string[] = []) => [
    `${method} ${path} HTTP/1.1`,
    `Host: ${HOST}:${port}`,
    'Connection: Upgrade, HTTP2-Settings',
    'Upgrade: h2c',
    'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA',
    ...extra,
  ]

  function expectPlain(seen: Seen): void {
    const got = names(seen.rawHeaders)
    expect(got).not.toContain('upgrade')
    expect(got).not.toContain('http2-settings')
    expect(lower(members(seen.rawHeaders, 'connection'))).not.toContain('upgrade')
    expect(lower(members(seen.rawHeaders, 'connection'))).not.toContain('http2-settings')
    expect(seen.httpVersion).toBe('1.1')
  }

  it('GET with Upgrade: h2c gets a 200 over HTTP/1.1, not 101, and the backend sees no upgrade', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const { response } = await h.rawOnce(g.port, wire(h2cHead(g.port, 'GET', '/h2c')))
    expect(response.status).toBe(200)
    expect(response.version).toBe('HTTP/1.1')
    expect(names(response.rawHeaders)).not.toContain('upgrade')
    expect(JSON.parse(response.body.toString()).url).toBe('/h2c')
    expect(b.requests).toHaveLength(1)
    expectPlain(b.requests[0]!)
  })

  it.each([
    ['nothing more', false],
    ['another request after the response arrived', true],
  ])(
    'an h2c upgrade request leaves no connection behind once the client is gone (client sent %s)',
    async (_name, more) => {
      const b = await h.backend()
      const g = await h.gateway([b])
      const { response, client } = await h.rawOnce(g.port, wire(h2cHead(g.port, 'GET', '/h2c-leak')))
      expect(response.status).toBe(200)
      if (more) client.write(wire(['GET /next HTTP/1.1', `Host: ${HOST}:${g.port}`]))
      await sleep(50)
      client.socket.end()
      client.destroy()
      await noConnections(g.server, 2_000, 'gateway server')
    },
  )

  it('POST with Upgrade: h2c and a body: the body reaches the backend', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const { response } = await h.rawOnce(
      g.port,
      wire(h2cHead(g.port, 'POST', '/h2c-post', ['Content-Length: 11']), 'hello world'),
    )
    expect(response.status).toBe(200)
    const seen = b.requests[0]!
    expectPlain(seen)
    expect(seen.body.toString()).toBe('hello world')
  })

  it('h2c: other options the same Connection line nominates are still dropped', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const { response } = await h.rawOnce(
      g.port,
      wire([
        'GET /h2c-nominated HTTP/1.1',
        `Host: ${HOST}:${g.port}`,
        'Connection: Upgrade, HTTP2-Settings, X-Secret',
        'Upgrade: h2c',
        'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA',
        'X-Secret: s1',
        'X-Kept: yes',
      ]),
    )
    expect(response.status).toBe(200)
    const seen = b.requests[0]!
    expectPlain(seen)
    expect(names(seen.rawHeaders)).not.toContain('x-secret')
    expect(values(seen.rawHeaders, 'x-kept')).toEqual(['yes'])
  })

  it('POST with Upgrade: h2c and a chunked body: the body reaches the backend', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const { response } = await h.rawOnce(
      g.port,
      wire(
        h2cHead(g.port, 'POST', '/h2c-chunked', ['Transfer-Encoding: chunked']),
        '5\r\nhello\r\n0\r\n\r\n',
      ),
    )
    expect(response.status).toBe(200)
    const seen = b.requests[0]!
    expectPlain(seen)
    expect(seen.body.toString()).toBe('hello')
  })

  it('h2c on the standalone server too', async () => {
    const b = await h.backend()
    const s = await h.standalone([b])
    const { response } = await h.rawOnce(s.port, wire(h2cHead(s.port, 'GET', '/h2c-standalone')))
    expect(response.status).toBe(200)
    expectPlain(b.requests[0]!)
  })

  it.skipIf(!CURL)('curl --http2 on http:// falls back to HTTP/1.1', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const r = await curl([
      '-sS',
      '--http2',
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      `${g.url}/curl-h2c`,
    ])
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('1.1 200')
    expect(b.requests).toHaveLength(1)
    expectPlain(b.requests[0]!)
  })
})

/**
 * What the strict standalone server (`listen()`) refuses, over raw sockets: Host errors (RFC 9112
 * §3.2) and ambiguous framing (RFC 9112 §6.1, §6.3, §5.2, §7.1) get a 400 and never reach a backend
 * (a request smuggled behind them neither); leading empty lines are tolerated (§2.2). And the gateway
 * is no open proxy: absolute-form targets go to the pool (§3.2.2), CONNECT is refused.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { HOST, HttpHarness, noConnections, sleep, type TestBackend, values, wire } from './http-helpers.js'

const h = new HttpHarness()
afterEach(() => h.closeAll())

const SMUGGLED = wire(['GET /smuggled HTTP/1.1', 'Host: smuggled.example'])

async function expectNothingSmuggled(b: TestBackend): Promise<void> {
  await sleep(100)
  expect(b.requests.map((s) => s.url)).not.toContain('/smuggled')
}

describe('Host (RFC 9112 §3.2)', { timeout: 10_000 }, () => {
  it('an HTTP/1.1 request without Host gets 400 and reaches no backend', async () => {
    const b = await h.backend()
    const s = await h.standalone([b])
    const { response } = await h.rawOnce(s.port, wire(['GET /no-host HTTP/1.1']))
    expect(response.status).toBe(400)
    await sleep(50)
    expect(b.requests).toHaveLength(0)
  })

  it.each([
    ['two different Host lines', ['Host: a.example', 'Host: b.example']],
    ['the same Host twice', ['Host: a.example', 'Host: a.example']],
  ])('%s: 400, no backend', async (_name, lines) => {
    const b = await h.backend()
    const s = await h.standalone([b])
    const { response } = await h.rawOnce(s.port, wire(['GET /hosts HTTP/1.1', ...lines]))
    expect(response.status).toBe(400)
    await sleep(50)
    expect(b.requests).toHaveLength(0)
  })

  it.each([
    'exa mple.com',
    'a/b',
    'user@example.com',
    'example.com:http',
    'example.com:80:80',
    '[::1',
    'exa"mple.com',
  ])('an invalid Host value %j: 400, no backend', async (value) => {
    const b = await h.backend()
    const s = await h.standalone([b])
    const { response } = await h.rawOnce(s.port, wire(['GET /bad-host HTTP/1.1', `Host: ${value}`]))
    expect(response.status).toBe(400)
    await sleep(50)
    expect(b.requests).toHaveLength(0)
  })

  it.each([
    'example.com',
    'example.com:8080',
    'EXAMPLE.com',
    '127.0.0.1:1',
    '[::1]:8080',
    'xn--bcher-kva.example',
  ])('a valid Host %j is served', async (value) => {
    const b = await h.backend()
    const s = await h.standalone([b])
    const { response } = await h.rawOnce(s.port, wire(['GET /good-host HTTP/1.1', `Host: ${value}`]))
    expect(response.status).toBe(200)
    expect(values(b.requests[0]!.rawHeaders, 'host')).toEqual([value])
  })

  it('an HTTP/1.0 request without Host is served (Host is required of HTTP/1.1 only)', async () => {
    const b = await h.backend()
    const s = await h.standalone([b])
    const { response } = await h.rawOnce(s.port, wire(['GET /old HTTP/1.0']))
    expect(response.status).toBe(200)
    expect(b.requests.map((r) => r.url)).toEqual(['/old'])
    // the backend is spoken to in HTTP/1.1, so it must get a Host
    expect(values(b.requests[0]!.rawHeaders, 'host')).toHaveLength(1)
  })
})

describe('ambiguous framing is refused with 400 and never reaches a backend', { timeout: 10_000 }, () => {
  const post = (...lines: string[]) => ['POST /framing HTTP/1.1', 'Host: app.example', ...lines]

  it.each<[string, string]>([
    [
      'Content-Length and Transfer-Encoding',
      wire(post('Content-Length: 4', 'Transfer-Encoding: chunked'), '0\r\n\r\n'),
    ],
    [
      'Transfer-Encoding and Content-Length',
      wire(post('Transfer-Encoding: chunked', 'Content-Length: 5'), '0\r\n\r\n'),
    ],
    ['two different Content-Length lines', wire(post('Content-Length: 5', 'Content-Length: 6'), 'hello!')],
    ['a Content-Length list with different values', wire(post('Content-Length: 5, 6'), 'hello!')],
    ['a Content-Length that is no number', wire(post('Content-Length: 5x'), 'hello')],
    ['Transfer-Encoding whose final coding is not chunked', wire(post('Transfer-Encoding: gzip'), 'hello')],
    ['an obs-fold field line', wire(['GET /fold HTTP/1.1', 'Host: app.example', 'X-Folded: one', ' two'])],
  ])('%s', async (_name, request) => {
    const b = await h.backend()
    const s = await h.standalone([b])
    const { response, client } = await h.rawOnce(s.port, request + SMUGGLED, 'POST')
    expect(response.status).toBe(400)
    // RFC 9112 §6.3: the server closes the connection after such a 400
    expect(await client.waitEnded(3_000)).toBe(true)
    await sleep(50)
    expect(b.requests).toHaveLength(0)
    await expectNothingSmuggled(b)
  })

  it.each<[string, string]>([
    ['bare LF after the chunk size', '5\nhello\r\n0\r\n\r\n'],
    ['bare LF after the chunk data', '5\r\nhello\n0\r\n\r\n'],
    ['bare LF ending the last chunk', '5\r\nhello\r\n0\n\n'],
    ['a chunk size that is no hex number', '5z\r\nhello\r\n0\r\n\r\n'],
  ])('%s inside chunked framing', async (_name, body) => {
    const b = await h.backend()
    const s = await h.standalone([b])
    const { response, client } = await h.rawOnce(
      s.port,
      wire(post('Transfer-Encoding: chunked'), body) + SMUGGLED,
      'POST',
    )
    expect(response.status).toBe(400)
    expect(await client.waitEnded(3_000)).toBe(true)
    await sleep(100)
    // the head may have started an upstream request; no request may complete there
    expect(b.completed()).toHaveLength(0)
    await expectNothingSmuggled(b)
  })

  it('leading empty lines before the request line are tolerated (RFC 9112 §2.2)', async () => {
    const b = await h.backend()
    const s = await h.standalone([b])
    const { response } = await h.rawOnce(
      s.port,
      `\r\n${wire(['GET /leading HTTP/1.1', 'Host: app.example'])}`,
    )
    expect(response.status).toBe(200)
    expect(b.requests.map((r) => r.url)).toEqual(['/leading'])
  })

  it('a well-framed chunked request is served (the strict parser is not just refusing bodies)', async () => {
    const b = await h.backend()
    const s = await h.standalone([b])
    const { response } = await h.rawOnce(
      s.port,
      wire(post('Transfer-Encoding: chunked'), '5\r\nhello\r\n0\r\n\r\n'),
      'POST',
    )
    expect(response.status).toBe(200)
    expect(b.completed().map((r) => r.body.toString())).toEqual(['hello'])
  })
})

describe.each(['gateway', 'standalone'] as const)('not an open proxy (%s)', { timeout: 10_000 }, (mode) => {
  const start = async (b: TestBackend) => (mode === 'gateway' ? h.gateway([b]) : h.standalone([b]))

  it('an absolute-form target goes to a pool backend, which sees the origin-form', async () => {
    const b = await h.backend()
    const g = await start(b)
    const { response } = await h.rawOnce(
      g.port,
      wire(['GET http://example.invalid/x?y HTTP/1.1', 'Host: example.invalid']),
    )
    expect(response.status).toBe(200)
    expect(b.requests.map((r) => r.url)).toEqual(['/x?y'])
  })

  it('an absolute-form target’s authority replaces a different Host (RFC 9112 §3.2.2)', async () => {
    const b = await h.backend()
    const g = await start(b)
    const { response } = await h.rawOnce(
      g.port,
      wire(['GET http://example.invalid/x HTTP/1.1', 'Host: other.example']),
    )
    expect(response.status).toBe(200)
    expect(values(b.requests[0]!.rawHeaders, 'host')).toEqual(['example.invalid'])
  })

  it('an absolute-form target naming another loopback server never reaches it', async () => {
    const b = await h.backend()
    const decoy = await h.decoy()
    const g = await start(b)
    const authority = `${HOST}:${decoy.port}`
    const { response } = await h.rawOnce(
      g.port,
      wire([`GET http://${authority}/steal HTTP/1.1`, `Host: ${authority}`]),
    )
    expect(response.status).toBe(200)
    expect(b.requests.map((r) => r.url)).toEqual(['/steal'])
    await sleep(50)
    expect(decoy.connections).toBe(0)
  })

  it.each(['example.invalid:443', 'decoy'])('CONNECT %s is refused and opens no tunnel', async (target) => {
    const b = await h.backend()
    const decoy = await h.decoy()
    const g = await start(b)
    const authority = target === 'decoy' ? `${HOST}:${decoy.port}` : target
    const client = await h.raw(g.port)
    client.write(wire([`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`]))
    const response = await client.readFinal('CONNECT')
    expect(response.status).toBeGreaterThanOrEqual(400)
    expect(response.status).toBeLessThan(600)
    // whatever follows is not relayed anywhere
    client.write('PING tunnel\r\n')
    await sleep(100)
    expect(decoy.connections).toBe(0)
    expect(decoy.data).toHaveLength(0)
    expect(b.requests).toHaveLength(0)
  })

  it.each([
    ['nothing more', 'none'],
    ['bytes right behind the head', 'with-head'],
    ['bytes after the refusal arrived', 'after'],
  ])(
    'a refused CONNECT leaves no connection behind once the client is gone (client sent %s)',
    async (_name, when) => {
      const b = await h.backend()
      const g = await start(b)
      const client = await h.raw(g.port)
      const head = wire(['CONNECT example.invalid:443 HTTP/1.1', 'Host: example.invalid:443'])
      const early = '\x16\x03\x01\x00\x05hello' // what a TLS client sends first
      client.write(when === 'with-head' ? head + early : head)
      expect((await client.readFinal('CONNECT')).status).toBeGreaterThanOrEqual(400)
      if (when === 'after') client.write(early)
      await sleep(50)
      client.socket.end()
      client.destroy()
      await noConnections(g.server, 2_000, `${mode} server`)
    },
  )
})

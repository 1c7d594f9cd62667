/**
 * Messages pass through intact: the request target byte for byte (RFC 9110 §7.7), repeated fields in
 * order (§5.3) and Set-Cookie never folded (§5.3, RFC 6265 §3); responses without content (HEAD,
 * 204, 304: RFC 9110 §6.4.1) send no content bytes, so a keep-alive or pipelined next response
 * parses; chunked bodies both ways with trailers (RFC 9112 §7.1); pipelined requests answered in order
 * (RFC 9112 §9.3.2).
 */
import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { echo, type Handler, HOST, HttpHarness, members, names, sleep, values, wire } from './http-helpers.js'

const h = new HttpHarness()
afterEach(() => h.closeAll())

describe('the request target is forwarded byte for byte', { timeout: 10_000 }, () => {
  it.each([
    '/a%2Fb/../c;x?q=%20&q=2&&x',
    '//double//slash/./x/?',
    "/!$&'()*+,;=:@-._~/x?/?:@!$&'()*+,;=",
    '/caf%C3%A9/%e2%82%ac?q=%e2%82%AC',
    '/%2e%2E/%2e/x%3F?a=b%26c=d',
    '/?',
  ])('%s', async (target) => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const { response } = await h.rawOnce(g.port, wire([`GET ${target} HTTP/1.1`, `Host: ${HOST}:${g.port}`]))
    expect(response.status).toBe(200)
    expect(b.requests.map((r) => r.url)).toEqual([target])
  })
})

describe('repeated fields', { timeout: 10_000 }, () => {
  const repeated = (port: number) =>
    wire([
      'GET /repeat HTTP/1.1',
      `Host: ${HOST}:${port}`,
      'X-Multi: a',
      'X-Other: z',
      'X-Multi: b',
      'X-List: l1, l2',
      'X-Multi: c',
      'X-List: l3',
    ])

  it('repeated request fields keep their values in order (RFC 9110 §5.3)', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    await h.rawOnce(g.port, repeated(g.port))
    const seen = b.requests[0]!.rawHeaders
    expect(members(seen, 'x-multi')).toEqual(['a', 'b', 'c'])
    expect(members(seen, 'x-list')).toEqual(['l1', 'l2', 'l3'])
    expect(values(seen, 'x-other')).toEqual(['z'])
  })

  it('repeated request fields stay separate field lines', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    await h.rawOnce(g.port, repeated(g.port))
    const seen = b.requests[0]!.rawHeaders
    expect(values(seen, 'x-multi')).toEqual(['a', 'b', 'c'])
    expect(values(seen, 'x-list')).toEqual(['l1, l2', 'l3'])
  })

  const cookies = [
    'a=1; Path=/',
    'b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure',
    'c=3; HttpOnly; SameSite=Lax',
  ]
  const setsCookies: Handler = (_req, res) => {
    res.writeHead(200, [
      'Set-Cookie',
      cookies[0]!,
      'X-Rep',
      '1',
      'Set-Cookie',
      cookies[1]!,
      'Link',
      '</a>; rel=preload',
      'X-Rep',
      '2',
      'Link',
      '</b>; rel=preload',
      'Set-Cookie',
      cookies[2]!,
      'Content-Length',
      '2',
    ])
    res.end('ok')
  }

  it('three Set-Cookie lines arrive as three, exactly (node:http)', async () => {
    const b = await h.backend(setsCookies)
    const g = await h.gateway([b])
    const r = await h.nodeRequest(g.port, { path: '/cookies' })
    expect(r.status).toBe(200)
    expect(values(r.rawHeaders, 'set-cookie')).toEqual(cookies)
  })

  it('three Set-Cookie lines arrive as three (undici), other repeated fields keep their order', async () => {
    const b = await h.backend(setsCookies)
    const g = await h.gateway([b])
    const r = await h.fetchText(`${g.url}/cookies`)
    expect(r.status).toBe(200)
    expect(r.headers['set-cookie']).toEqual(cookies)
    const c = await h.raw(g.port)
    c.write(wire(['GET /cookies HTTP/1.1', `Host: ${HOST}:${g.port}`]))
    const raw = await c.readFinal()
    expect(values(raw.rawHeaders, 'set-cookie')).toEqual(cookies)
    expect(members(raw.rawHeaders, 'x-rep')).toEqual(['1', '2'])
    expect(members(raw.rawHeaders, 'link')).toEqual(['</a>; rel=preload', '</b>; rel=preload'])
  })
})

describe('responses without content', { timeout: 10_000 }, () => {
  const LEN = 1234
  const noContent: Handler = (req, res, seen) => {
    switch (seen.url) {
      case '/len':
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': LEN })
        res.end(req.method === 'HEAD' ? undefined : 'x'.repeat(LEN))
        return
      case '/chunked':
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.end(req.method === 'HEAD' ? undefined : 'some chunked content')
        return
      case '/204':
        res.writeHead(204, { 'x-done': 'yes' })
        res.end()
        return
      case '/304':
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60' })
        res.end()
        return
      default:
        echo(req, res, seen)
    }
  }

  it('HEAD: Content-Length preserved, no content bytes; the next keep-alive response parses', async () => {
    const b = await h.backend(noContent)
    const g = await h.gateway([b])
    const c = await h.raw(g.port)
    c.write(wire(['GET /len HTTP/1.1', `Host: ${HOST}:${g.port}`]))
    const get = await c.readFinal('GET')
    expect(get.status).toBe(200)
    expect(get.body.length).toBe(LEN)
    c.write(wire(['HEAD /len HTTP/1.1', `Host: ${HOST}:${g.port}`]))
    const head = await c.readFinal('HEAD')
    expect(head.status).toBe(200)
    expect(values(head.rawHeaders, 'content-length')).toEqual([String(LEN)])
    await sleep(50)
    expect(c.buffered.length, 'bytes after a HEAD response').toBe(0)
    c.write(wire(['GET /after HTTP/1.1', `Host: ${HOST}:${g.port}`]))
    const after = await c.readFinal('GET')
    expect(after.status).toBe(200)
    expect(JSON.parse(after.body.toString()).url).toBe('/after')
  })

  it('HEAD of a chunked resource: no content bytes, not even a last-chunk', async () => {
    const b = await h.backend(noContent)
    const g = await h.gateway([b])
    const c = await h.raw(g.port)
    c.write(wire(['HEAD /chunked HTTP/1.1', `Host: ${HOST}:${g.port}`]))
    const head = await c.readFinal('HEAD')
    expect(head.status).toBe(200)
    await sleep(50)
    expect(c.buffered.length, 'bytes after a HEAD response').toBe(0)
    c.write(wire(['GET /after HTTP/1.1', `Host: ${HOST}:${g.port}`]))
    expect((await c.readFinal('GET')).status).toBe(200)
  })

  it('204: no Content-Length, no Transfer-Encoding, no content; the next response parses', async () => {
    const b = await h.backend(noContent)
    const g = await h.gateway([b])
    const c = await h.raw(g.port)
    c.write(wire(['DELETE /204 HTTP/1.1', `Host: ${HOST}:${g.port}`]))
    const r = await c.readFinal('DELETE')
    expect(r.status).toBe(204)
    expect(values(r.rawHeaders, 'x-done')).toEqual(['yes'])
    // RFC 9110 §8.6 and RFC 9112 §6.1: neither field in a 204
    expect(names(r.rawHeaders)).not.toContain('content-length')
    expect(names(r.rawHeaders)).not.toContain('transfer-encoding')
    await sleep(50)
    expect(c.buffered.length, 'bytes after a 204').toBe(0)
    c.write(wire(['GET /after HTTP/1.1', `Host: ${HOST}:${g.port}`]))
    expect((await c.readFinal('GET')).status).toBe(200)
  })

  it('304: validators kept, no content; the next response parses', async () => {
    const b = await h.backend(noContent)
    const g = await h.gateway([b])
    const c = await h.raw(g.port)
    c.write(wire(['GET /304 HTTP/1.1', `Host: ${HOST}:${g.port}`, 'If-None-Match: "v1"']))
    const r = await c.readFinal('GET')
    expect(r.status).toBe(304)
    expect(values(r.rawHeaders, 'etag')).toEqual(['"v1"'])
    expect(values(r.rawHeaders, 'cache-control')).toEqual(['max-age=60'])
    await sleep(50)
    expect(c.buffered.length, 'bytes after a 304').toBe(0)
    c.write(wire(['GET /after HTTP/1.1', `Host: ${HOST}:${g.port}`]))
    expect((await c.readFinal('GET')).status).toBe(200)
  })

  it('HEAD, 204 and 304 pipelined with GETs on one socket all parse in order', async () => {
    const b = await h.backend(noContent)
    const g = await h.gateway([b])
    const c = await h.raw(g.port)
    const host = `Host: ${HOST}:${g.port}`
    c.write(
      wire(['HEAD /len HTTP/1.1', host]) +
        wire(['GET /204 HTTP/1.1', host]) +
        wire(['GET /304 HTTP/1.1', host, 'If-None-Match: "v1"']) +
        wire(['GET /last HTTP/1.1', host, 'Connection: close']),
    )
    expect((await c.readFinal('HEAD')).status).toBe(200)
    expect((await c.readFinal('GET')).status).toBe(204)
    expect((await c.readFinal('GET')).status).toBe(304)
    const last = await c.readFinal('GET')
    expect(last.status).toBe(200)
    expect(JSON.parse(last.body.toString()).url).toBe('/last')
  })
})

describe('chunked bodies and trailers', { timeout: 10_000 }, () => {
  it('a chunked request body (no Content-Length) arrives intact (node:http, written in pieces)', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const r = await h.nodeRequest(g.port, {
      method: 'POST',
      path: '/upload',
      headers: ['Transfer-Encoding', 'chunked', 'Content-Type', 'text/plain'],
      body: ['hel', 'lo ', 'wor', 'ld'],
    })
    expect(r.status).toBe(200)
    expect(b.completed().map((s) => s.body.toString())).toEqual(['hello world'])
  })

  it('a large chunked request body (beyond any replay buffer) arrives intact', async () => {
    const b = await h.backend((_req, res, seen) => {
      res.end(createHash('sha256').update(seen.body).digest('hex'))
    })
    const g = await h.gateway([b])
    const pieces = Array.from({ length: 5 }, (_, i) => Buffer.alloc(64 * 1024, i + 1))
    const r = await h.nodeRequest(g.port, {
      method: 'PUT',
      path: '/large',
      headers: ['Transfer-Encoding', 'chunked'],
      body: pieces,
    })
    expect(r.status).toBe(200)
    expect(r.body.toString()).toBe(createHash('sha256').update(Buffer.concat(pieces)).digest('hex'))
    expect(b.completed()[0]!.body.length).toBe(5 * 64 * 1024)
  })

  it('a raw chunked request with extensions and a trailer section arrives intact', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const { response } = await h.rawOnce(
      g.port,
      wire(
        ['POST /raw-chunked HTTP/1.1', `Host: ${HOST}:${g.port}`, 'Transfer-Encoding: chunked'],
        '4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Req-Trailer: v\r\n\r\n',
      ),
      'POST',
    )
    expect(response.status).toBe(200)
    expect(b.completed().map((s) => s.body.toString())).toEqual(['Wikipedia in\r\n\r\nchunks.'])
  })

  const withTrailers: Handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', trailer: 'X-Checksum' })
    res.write('part1,')
    setTimeout(() => {
      res.write('part2')
      res.addTrailers({ 'X-Checksum': 'abc123' })
      res.end()
    }, 10)
  }

  it('a chunked response with trailers: the client sees the trailers (node:http res.trailers)', async () => {
    const b = await h.backend(withTrailers)
    const g = await h.gateway([b])
    const r = await h.nodeRequest(g.port, { path: '/trailers', headers: ['TE', 'trailers'] })
    expect(r.status).toBe(200)
    expect(r.body.toString()).toBe('part1,part2')
    expect(r.trailers['x-checksum']).toBe('abc123')
  })

  it('a chunked response with trailers, on the wire: chunked framing with the trailer section', async () => {
    const b = await h.backend(withTrailers)
    const g = await h.gateway([b])
    const { response } = await h.rawOnce(
      g.port,
      wire(['GET /trailers HTTP/1.1', `Host: ${HOST}:${g.port}`, 'TE: trailers']),
    )
    expect(response.status).toBe(200)
    expect(response.chunked).toBe(true)
    expect(response.body.toString()).toBe('part1,part2')
    expect(values(response.rawTrailers, 'x-checksum')).toEqual(['abc123'])
  })
})

describe('pipelining (RFC 9112 §9.3.2)', { timeout: 10_000 }, () => {
  it('requests pipelined on one raw socket are answered in order, whatever each backend takes', async () => {
    const delayed: Handler = (req, res, seen) => {
      const delay = Number(new URL(seen.url, 'http://x').searchParams.get('delay') ?? 0)
      setTimeout(() => echo(req, res, seen), delay)
    }
    const b1 = await h.backend(delayed)
    const b2 = await h.backend(delayed)
    const g = await h.gateway([b1, b2])
    const c = await h.raw(g.port)
    const host = `Host: ${HOST}:${g.port}`
    const targets = ['/p1?delay=200', '/p2', '/p3?delay=20', '/p4?delay=100', '/p5', '/p6']
    c.write(
      wire([`GET ${targets[0]} HTTP/1.1`, host]) +
        wire([`GET ${targets[1]} HTTP/1.1`, host]) +
        wire([`POST ${targets[2]} HTTP/1.1`, host, 'Content-Length: 3'], 'abc') +
        wire([`GET ${targets[3]} HTTP/1.1`, host]) +
        wire([`POST ${targets[4]} HTTP/1.1`, host, 'Transfer-Encoding: chunked'], '2\r\nhi\r\n0\r\n\r\n') +
        wire([`GET ${targets[5]} HTTP/1.1`, host, 'Connection: close']),
    )
    const got: { url: string; body: string }[] = []
    for (const t of targets) {
      const r = await c.readFinal('GET', 5_000)
      expect(r.status, t).toBe(200)
      const echoed = JSON.parse(r.body.toString()) as { url: string; body: string }
      got.push({ url: echoed.url, body: echoed.body })
    }
    expect(got).toEqual([
      { url: '/p1?delay=200', body: '' },
      { url: '/p2', body: '' },
      { url: '/p3?delay=20', body: 'abc' },
      { url: '/p4?delay=100', body: '' },
      { url: '/p5', body: 'hi' },
      { url: '/p6', body: '' },
    ])
    expect(await c.waitEnded(3_000)).toBe(true)
  })
})

/**
 * Interim responses: `Expect: 100-continue` (RFC 9110 §10.1.1) lets the client send its body after a
 * 100 and ends in the backend's final status; 1xx from the backend are forwarded to HTTP/1.1 clients
 * (RFC 9110 §15.2) and never to HTTP/1.0 clients.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { curl, type Handler, HOST, HttpHarness, hasCurl, values, wire } from './http-helpers.js'

const h = new HttpHarness()
afterEach(() => h.closeAll())

const CURL = await hasCurl()

describe('Expect: 100-continue', { timeout: 10_000 }, () => {
  it('node:http waiting for "continue": gets 100, sends the body, the backend gets it, 200', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const r = await h.nodeRequest(g.port, {
      method: 'POST',
      path: '/expect',
      headers: ['Expect', '100-continue', 'Content-Length', '11', 'Content-Type', 'text/plain'],
      body: 'hello world',
    })
    expect(r.continued).toBe(true)
    expect(r.status).toBe(200)
    expect(b.completed().map((s) => s.body.toString())).toEqual(['hello world'])
  })

  it('with a chunked body', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const r = await h.nodeRequest(g.port, {
      method: 'PUT',
      path: '/expect-chunked',
      headers: ['Expect', '100-continue', 'Transfer-Encoding', 'chunked'],
      body: ['abc', 'def'],
    })
    expect(r.continued).toBe(true)
    expect(r.status).toBe(200)
    expect(b.completed().map((s) => s.body.toString())).toEqual(['abcdef'])
  })

  it('a raw client that waits for exactly "100 Continue" before the body', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const c = await h.raw(g.port)
    c.write(
      wire([
        'POST /expect-raw HTTP/1.1',
        `Host: ${HOST}:${g.port}`,
        'Expect: 100-continue',
        'Content-Length: 4',
      ]),
    )
    const interim = await c.read('POST', 5_000)
    expect(interim.status).toBe(100)
    c.write('body')
    const final = await c.readFinal('POST', 5_000)
    expect(final.status).toBe(200)
    expect(JSON.parse(final.body.toString()).body).toBe('body')
  })

  it.skipIf(!CURL)('curl with Expect: 100-continue', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const r = await curl([
      '-sS',
      '-v',
      '--expect100-timeout',
      '5',
      '-H',
      'Expect: 100-continue',
      '-H',
      'Content-Type: text/plain',
      '--data-binary',
      'hello curl',
      '-w',
      '\n%{http_code}',
      `${g.url}/expect-curl`,
    ])
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/< HTTP\/1\.1 100 Continue/)
    const lines = r.stdout.split('\n')
    expect(lines.at(-1)).toBe('200')
    expect(JSON.parse(lines.slice(0, -1).join('\n')).body).toBe('hello curl')
    expect(b.completed().map((s) => s.body.toString())).toEqual(['hello curl'])
  })
})

describe('1xx from the backend', { timeout: 10_000 }, () => {
  const hints: Handler = (_req, res) => {
    res.writeEarlyHints({
      link: ['</style.css>; rel=preload; as=style', '</app.js>; rel=preload; as=script'],
    })
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 4 })
      res.end('done')
    }, 20)
  }

  it('103 Early Hints reaches a node:http client (information event with its Link), then the 200', async () => {
    const b = await h.backend(hints)
    const g = await h.gateway([b])
    const r = await h.nodeRequest(g.port, { path: '/hints' })
    expect(r.informational.map((i) => i.statusCode)).toEqual([103])
    const links = values(r.informational[0]!.rawHeaders, 'link').join(', ')
    expect(links).toContain('</style.css>; rel=preload; as=style')
    expect(links).toContain('</app.js>; rel=preload; as=script')
    expect(r.status).toBe(200)
    expect(r.body.toString()).toBe('done')
  })

  it('103 on the wire: a complete 1xx head, then the final response', async () => {
    const b = await h.backend(hints)
    const g = await h.gateway([b])
    const { response } = await h.rawOnce(g.port, wire(['GET /hints HTTP/1.1', `Host: ${HOST}:${g.port}`]))
    expect(response.informational.map((i) => i.status)).toEqual([103])
    expect(response.status).toBe(200)
    expect(response.body.toString()).toBe('done')
  })

  it('an HTTP/1.0 client gets no 1xx, only the final response', async () => {
    const b = await h.backend(hints)
    const g = await h.gateway([b])
    const { response } = await h.rawOnce(g.port, wire(['GET /hints HTTP/1.0', `Host: ${HOST}:${g.port}`]))
    expect(response.informational).toEqual([])
    expect(response.status).toBe(200)
    expect(response.body.toString()).toBe('done')
  })
})

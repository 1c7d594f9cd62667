/**
 * `proxyMiddleware()` in real Express 5 apps on loopback: the mount path is stripped (or not), a body
 * consumed by a body parser is re-serialized or refused, a 5 MiB upload streams through, dead backends
 * give a 502 from the proxy (not Express), and `close()` frees the upstream pools.
 */
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import { type Balancer, createBalancer, InvalidOptionError } from '@fulcrum/core'
import { createHttpProxy, type ProxyError, proxyMiddleware } from '@fulcrum/http-proxy'
import express from 'express'
import { Agent, request } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Backend, type Echo, startBackend } from './http-echo-backend.js'

const HOST = '127.0.0.1'

async function serve(app: express.Express): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(app)
  server.listen(0, HOST)
  await once(server, 'listening')
  opened.push(server)
  return { server, url: `http://${HOST}:${(server.address() as AddressInfo).port}` }
}

let backends: Backend[] = []
let lb: Balancer
const opened: http.Server[] = []
const closers: (() => Promise<void>)[] = []
const agent = new Agent({ keepAliveTimeout: 10 })

/** A request through the shared client; the body parsed as JSON when it is JSON. */
async function call(
  url: string,
  options: Parameters<typeof request>[1] = {},
): Promise<{ status: number; headers: Record<string, unknown>; json: Echo & Record<string, unknown> }> {
  const res = await request(url, { dispatcher: agent, ...options })
  const text = await res.body.text()
  let json: Echo & Record<string, unknown>
  try {
    json = JSON.parse(text)
  } catch {
    json = { text } as Echo & Record<string, unknown>
  }
  return { status: res.statusCode, headers: res.headers, json }
}

beforeAll(async () => {
  backends = await Promise.all(['b1', 'b2', 'b3'].map((n) => startBackend(n)))
  lb = createBalancer()
    .backends(backends.map((b) => ({ id: b.name, url: b.url })))
    .build()
})
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()))
  for (const s of opened.splice(0)) s.closeAllConnections()
})
afterAll(async () => {
  await agent.close()
  await lb.close()
  for (const b of backends) b.server.closeAllConnections()
  await Promise.all(backends.map((b) => new Promise((ok) => b.server.close(ok))))
})

/** An app with a local route, then `mw` at `/api`, after `before` (body parsers …). */
async function app(
  mw: ReturnType<typeof proxyMiddleware>,
  before: express.RequestHandler[] = [],
): Promise<{ url: string; errors: unknown[] }> {
  const errors: unknown[] = []
  const a = express()
  a.get('/local', (_req, res) => {
    res.json({ local: true })
  })
  for (const h of before) a.use(h)
  a.use('/api', mw)
  a.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    errors.push(err)
    res.status((err as { status?: number }).status ?? 500).json({ error: (err as Error).message })
  })
  closers.push(() => mw.close())
  const { url } = await serve(a)
  return { url, errors }
}

describe('proxyMiddleware (Express 5)', () => {
  it('serves local routes itself and strips the mount path from proxied ones', async () => {
    const { url } = await app(proxyMiddleware(lb))
    expect((await call(`${url}/local`)).json).toEqual({ local: true })
    const users = await call(`${url}/api/users/7?full=1`)
    expect(users.status).toBe(200)
    expect(users.json.url).toBe('/users/7?full=1')
    expect(users.headers['x-backend']).toBe(users.json.backend)
    expect(users.json.headers.via).toBe('1.1 fulcrum')
    expect((await call(`${url}/api`)).json.url).toBe('/')
    expect((await call(`${url}/api?q=1`)).json.url).toBe('/?q=1')
    expect((await call(`${url}/apix`)).status).toBe(404) // Express's own 404: not under the mount
    const seen = new Set<string>()
    for (let i = 0; i < 12; i++) seen.add((await call(`${url}/api/spread`)).json.backend)
    expect(seen.size).toBeGreaterThan(1)
  })

  it('forwards req.originalUrl with forwardUrl: "original", or what a function returns', async () => {
    const original = await app(proxyMiddleware(lb, { forwardUrl: 'original' }))
    expect((await call(`${original.url}/api/users?x=1`)).json.url).toBe('/api/users?x=1')
    const custom = await app(proxyMiddleware(lb, { forwardUrl: (req) => `/v2${req.url}` }))
    expect((await call(`${custom.url}/api/users`)).json.url).toBe('/v2/users')
  })

  it('re-serializes a body that express.json() consumed, with a new Content-Length', async () => {
    let bodySeenByHook: unknown
    const mw = proxyMiddleware(lb, {
      onRequest: (ctx) => {
        bodySeenByHook = (ctx.req as express.Request).body // hooks see the Express request's properties
        return undefined
      },
    })
    const { url } = await app(mw, [express.json({ limit: '1mb' })])
    const payload = { name: 'ada', tags: ['x', 'y'], n: 1 }
    const res = await call(`${url}/api/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: `  ${JSON.stringify(payload)}  `,
    })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.json.text)).toEqual(payload)
    expect(res.json.headers['content-length']).toBe(String(Buffer.byteLength(JSON.stringify(payload))))
    expect(res.json.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(bodySeenByHook).toEqual(payload)

    // A gzip body was inflated by the parser: it goes upstream uncompressed, without Content-Encoding.
    const zipped = await call(`${url}/api/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(payload)),
    })
    expect(JSON.parse(zipped.json.text)).toEqual(payload)
    expect(zipped.json.headers['content-encoding']).toBeUndefined()

    // A chunked body (no Content-Length) gets one.
    const chunked = await call(`${url}/api/items`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: Readable.from([Buffer.from('{"a":'), Buffer.from('1}')]),
    })
    expect(chunked.json.text).toBe('{"a":1}')
    expect(chunked.json.headers['transfer-encoding']).toBeUndefined()
    expect(chunked.json.headers['content-length']).toBe('7')

    // Past maxReplayBodyBytes the re-serialized body is streamed (not buffered for replay).
    const rows = Array.from({ length: 5_000 }, (_, i) => ({ i, name: `row-${i}`, pad: 'x'.repeat(40) }))
    const big = await call(`${url}/api/bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(rows),
    })
    const bytes = Buffer.from(JSON.stringify(rows))
    expect(bytes.length).toBeGreaterThan(65_536)
    expect(big.json).toMatchObject({
      length: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    })

    // Bodies the parser skipped (another content type) stream through untouched.
    const other = await call(`${url}/api/raw`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'not json {',
    })
    expect(other.json.text).toBe('not json {')
  })

  it('re-serializes express.urlencoded(), express.text() and express.raw() bodies', async () => {
    const { url } = await app(proxyMiddleware(lb), [
      express.urlencoded({ extended: false }),
      express.text(),
      express.raw({ type: 'application/x-bin' }),
    ])
    const form = await call(`${url}/api/form`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1&b=x+y&a=2',
    })
    expect(new URLSearchParams(form.json.text).getAll('a')).toEqual(['1', '2'])
    expect(new URLSearchParams(form.json.text).get('b')).toBe('x y')
    const text = await call(`${url}/api/text`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'héllo',
    })
    expect(text.json.text).toBe('héllo')
    const bytes = randomBytes(1000)
    const raw = await call(`${url}/api/bin`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-bin' },
      body: bytes,
    })
    expect(raw.json.sha256).toBe(createHash('sha256').update(bytes).digest('hex'))
  })

  it('calls next(err) with a clear 500 when a consumed body cannot be forwarded', async () => {
    const rejecting = await app(proxyMiddleware(lb, { consumedBody: 'reject' }), [express.json()])
    const res = await call(`${rejecting.url}/api/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    })
    expect(res.status).toBe(500)
    expect(res.json.error).toMatch(/request body was read before the proxy.*mount the proxy before/)
    const err = rejecting.errors[0] as ProxyError
    expect(err.code).toBe('FULCRUM_ERR_BODY_CONSUMED')
    expect(err.status).toBe(500)

    // A nested (extended) form has no single encoding: refused rather than guessed.
    const nested = await app(proxyMiddleware(lb), [express.urlencoded({ extended: true })])
    const form = await call(`${nested.url}/api/form`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'user[name]=ada',
    })
    expect(form.status).toBe(500)
    expect(form.json.error).toMatch(/cannot be re-serialized as application\/x-www-form-urlencoded/)

    // Text decoded from another charset would go out as UTF-8 under the old label: refused.
    const latin = await app(proxyMiddleware(lb), [express.text()])
    const decoded = await call(`${latin.url}/api/t`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=iso-8859-1' },
      body: Buffer.from([0x68, 0xe9]),
    })
    expect(decoded.status).toBe(500)

    // A middleware that drained the stream without setting req.body.
    const drained = await app(proxyMiddleware(lb), [
      (req, _res, next) => {
        req.resume()
        req.on('end', () => next())
      },
    ])
    const lost = await call(`${drained.url}/api/x`, { method: 'POST', body: 'abc' })
    expect(lost.status).toBe(500)
    expect(lost.json.error).toMatch(/left no req.body/)
  })

  it('streams a 5 MiB upload through (Content-Length and chunked)', async () => {
    const { url } = await app(proxyMiddleware(lb))
    const data = randomBytes(5 * 1024 * 1024)
    const sha256 = createHash('sha256').update(data).digest('hex')
    const sized = await call(`${url}/api/upload`, {
      method: 'PUT',
      headers: { 'content-length': String(data.length) },
      body: data,
    })
    expect(sized.json).toMatchObject({ length: data.length, sha256 })
    const chunks = Array.from({ length: 80 }, (_, i) => data.subarray(i * 65_536, (i + 1) * 65_536))
    const chunked = await call(`${url}/api/upload`, { method: 'POST', body: Readable.from(chunks) })
    expect(chunked.json).toMatchObject({ length: data.length, sha256 })
    expect(chunked.json.headers['transfer-encoding']).toBe('chunked')
  })

  it('answers 502 itself when every backend is dead', async () => {
    const dead = await Promise.all([startBackend('d1'), startBackend('d2')])
    for (const d of dead) await new Promise((ok) => d.server.close(ok))
    const deadLb = createBalancer()
      .backends(dead.map((d) => d.url))
      .build()
    const { url, errors } = await app(proxyMiddleware(deadLb, { retries: 1 }))
    const res = await call(`${url}/api/x`)
    expect(res.status).toBe(502)
    expect(res.json.text).toBe('502 Bad Gateway\n')
    expect(errors).toEqual([]) // the proxy answered; Express's error handler was not involved
    await deadLb.close()
  })

  it('close() frees the upstream pools', async () => {
    const mw = proxyMiddleware(lb, { upstream: { keepAliveTimeoutMs: 60_000 } })
    const { url } = await app(mw)
    for (let i = 0; i < 6; i++) await call(`${url}/api/x`)
    const pooled = () => backends.reduce((n, b) => n + b.sockets.size, 0)
    expect(pooled()).toBeGreaterThan(0)
    await mw.close()
    const deadline = Date.now() + 2_000
    while (pooled() > 0 && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 10))
    expect(pooled()).toBe(0)
  })

  it('shares an existing proxy, and validates its options', async () => {
    const proxy = createHttpProxy(lb)
    const mw = proxyMiddleware(proxy, { forwardUrl: 'original' })
    expect(mw.proxy).toBe(proxy)
    const { url } = await app(mw)
    expect((await call(`${url}/api/shared`)).json.url).toBe('/api/shared')
    expect(() => proxyMiddleware(proxy, { retries: 1 } as never)).toThrow(InvalidOptionError)
    expect(() => proxyMiddleware(lb, { forwardUrl: 'mounted' as never })).toThrow(/options.forwardUrl/)
    expect(() => proxyMiddleware(lb, { consumedBody: 'drop' as never })).toThrow(/options.consumedBody/)
    expect(() => proxyMiddleware(lb, { retrys: 1 } as never)).toThrow(/options.retrys/)
  })
})

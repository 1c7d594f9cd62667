/**
 * `fastifyProxy` in real Fastify 5 apps on loopback: prefix stripping and rewriting, the raw body
 * proxied unread (past Fastify's body limit) while the app's own routes keep their parsers, parent
 * hooks running first, a 502 from dead backends, WebSocket under the prefix, and `close()` of the
 * app freeing the upstream pools and the upgrade listener.
 */
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { Readable } from 'node:stream'
import { type Balancer, createBalancer, InvalidOptionError } from '@fulcrum/core'
import { fastifyProxy } from '@fulcrum/http-proxy'
import Fastify, { type FastifyInstance } from 'fastify'
import { Agent, request } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { type Backend, type Echo, startBackend } from './http-echo-backend.js'

const HOST = '127.0.0.1'

let backends: Backend[] = []
let lb: Balancer
const apps: FastifyInstance[] = []
const agent = new Agent({ keepAliveTimeout: 10 })

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

/** A Fastify app with local routes; `setup` registers the proxy. Returns its URL. */
async function start(setup: (app: FastifyInstance) => void): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ forceCloseConnections: true })
  app.get('/local', async () => ({ local: true }))
  app.post('/local-json', async (req) => ({ parsed: req.body }))
  setup(app)
  apps.push(app)
  const url = await app.listen({ port: 0, host: HOST })
  return { app, url }
}

function openSocket(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url)
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected ${res.statusCode}`)))
  })
}

beforeAll(async () => {
  backends = await Promise.all(['b1', 'b2', 'b3'].map((n) => startBackend(n, true)))
  lb = createBalancer()
    .backends(backends.map((b) => ({ id: b.name, url: b.url })))
    .build()
})
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()))
})
afterAll(async () => {
  await agent.close()
  await lb.close()
  for (const b of backends) b.server.closeAllConnections()
  await Promise.all(backends.map((b) => new Promise((ok) => b.server.close(ok))))
})

describe('fastifyProxy (Fastify 5)', () => {
  it('proxies every method under the prefix, stripped, and leaves other routes to the app', async () => {
    const { url } = await start((app) => app.register(fastifyProxy, { balancer: lb, prefix: '/api' }))
    expect((await call(`${url}/local`)).json).toEqual({ local: true })
    const users = await call(`${url}/api/users/7?full=1`)
    expect(users.json).toMatchObject({ url: '/users/7?full=1', method: 'GET' })
    expect(users.headers['x-backend']).toBe(users.json.backend)
    expect((await call(`${url}/api`)).json.url).toBe('/')
    expect((await call(`${url}/api/`)).json.url).toBe('/')
    expect((await call(`${url}/api?q=1`)).json.url).toBe('/?q=1')
    expect((await call(`${url}/apix`)).status).toBe(404)
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'] as const) {
      const res = await request(`${url}/api/m`, { dispatcher: agent, method })
      await res.body.dump()
      expect(res.statusCode, method).toBe(200)
      expect(res.headers['x-backend']).toMatch(/^b[123]$/)
    }
    const seen = new Set<string>()
    for (let i = 0; i < 12; i++) seen.add((await call(`${url}/api/spread`)).json.backend)
    expect(seen.size).toBeGreaterThan(1)
  })

  it('rewrites the prefix with rewritePrefix', async () => {
    const { url } = await start((app) =>
      app.register(fastifyProxy, { balancer: lb, prefix: '/api/', rewritePrefix: '/v2' }),
    )
    expect((await call(`${url}/api/users?x=1`)).json.url).toBe('/v2/users?x=1')
    expect((await call(`${url}/api/`)).json.url).toBe('/v2/')
    expect((await call(`${url}/api`)).status).toBe(404) // Fastify's rule for a prefix ending in '/'
    const { url: plain } = await start((app) =>
      app.register(fastifyProxy, { balancer: lb, prefix: '/api', rewritePrefix: '/v2' }),
    )
    expect((await call(`${plain}/api`)).json.url).toBe('/v2')
    expect((await call(`${plain}/api?x=1`)).json.url).toBe('/v2?x=1')
  })

  it('proxies the raw body unread, while the app’s own routes keep their JSON parser', async () => {
    const { url } = await start((app) => app.register(fastifyProxy, { balancer: lb, prefix: '/api' }))
    const local = await call(`${url}/local-json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    })
    expect(local.json).toEqual({ parsed: { a: 1 } })
    // Invalid JSON would be a 400 from Fastify's parser: the proxy's context has none.
    const raw = await call(`${url}/api/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '  {"a": not json',
    })
    expect(raw.status).toBe(200)
    expect(raw.json.text).toBe('  {"a": not json')
    const untyped = await call(`${url}/api/items`, { method: 'PUT', body: 'no content type' })
    expect(untyped.json.text).toBe('no content type')
  })

  it('streams a 5 MiB upload through, past Fastify’s body limit', async () => {
    const { url } = await start((app) => app.register(fastifyProxy, { balancer: lb, prefix: '/api' }))
    const data = randomBytes(5 * 1024 * 1024)
    const sha256 = createHash('sha256').update(data).digest('hex')
    const sized = await call(`${url}/api/upload`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
      body: data,
    })
    expect(sized.json).toMatchObject({ length: data.length, sha256 })
    const chunks = Array.from({ length: 80 }, (_, i) => data.subarray(i * 65_536, (i + 1) * 65_536))
    const chunked = await call(`${url}/api/upload`, { method: 'POST', body: Readable.from(chunks) })
    expect(chunked.json).toMatchObject({ length: data.length, sha256 })
  })

  it('runs the parent context’s hooks before proxying', async () => {
    const { url } = await start((app) => {
      app.addHook('onRequest', async (req, reply) => {
        if (req.url.startsWith('/api') && req.headers.authorization !== 'Bearer ok')
          return reply.code(401).send({ error: 'unauthorized' })
        return undefined
      })
      app.register(fastifyProxy, { balancer: lb, prefix: '/api' })
    })
    expect((await call(`${url}/api/secret`)).status).toBe(401)
    const ok = await call(`${url}/api/secret`, { headers: { authorization: 'Bearer ok' } })
    expect(ok.json.url).toBe('/secret')
  })

  it('answers 502 when every backend is dead', async () => {
    const dead = await Promise.all([startBackend('d1', true), startBackend('d2', true)])
    for (const d of dead) await new Promise((ok) => d.server.close(ok))
    const deadLb = createBalancer()
      .backends(dead.map((d) => d.url))
      .build()
    const { url } = await start((app) =>
      app.register(fastifyProxy, { balancer: deadLb, prefix: '/api', retries: 1 }),
    )
    const res = await call(`${url}/api/x`)
    expect(res.status).toBe(502)
    expect(res.json.text).toBe('502 Bad Gateway\n')
    await deadLb.close()
  })

  it('relays WebSocket upgrades under the prefix; other upgrades are answered by Fastify', async () => {
    const { url } = await start((app) => {
      app.register(fastifyProxy, { balancer: lb, prefix: '/api' })
      app.register(fastifyProxy, { balancer: lb, prefix: '/api/live', rewritePrefix: '/stream' })
    })
    const ws = await openSocket(`${url.replace('http', 'ws')}/api/chat?room=1`)
    const reply = once(ws, 'message')
    ws.send('hello')
    expect(String((await reply)[0])).toMatch(/^b[123]:\/chat\?room=1:hello$/)
    ws.close()
    const live = await openSocket(`${url.replace('http', 'ws')}/api/live/feed`)
    const fed = once(live, 'message')
    live.send('x')
    expect(String((await fed)[0])).toMatch(/^b[123]:\/stream\/feed:x$/)
    live.close()
    await expect(openSocket(`${url.replace('http', 'ws')}/elsewhere`)).rejects.toThrow('unexpected 404')
    await expect(openSocket(`${url.replace('http', 'ws')}/apix`)).rejects.toThrow('unexpected 404')
  })

  it('an h2c upgrade under the prefix is proxied with its own URL, never routed to the app’s path', async () => {
    const { url } = await start((app) => {
      app.get('/x', async () => ({ local: true }))
      app.register(fastifyProxy, { balancer: lb, prefix: '/api' })
    })
    const { port } = new URL(url)
    const net = await import('node:net')
    const raw = await new Promise<string>((resolve) => {
      const s = net.connect(Number(port), HOST, () =>
        s.write(
          'GET /api/x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
        ),
      )
      let out = ''
      s.on('data', (d) => {
        out += d
        if (out.includes('}')) s.destroy()
      })
      s.on('close', () => resolve(out))
      setTimeout(() => s.destroy(), 3_000)
    })
    expect(raw).toMatch(/^HTTP\/1\.1 200/)
    expect(raw).toContain('"url":"/x"')
    expect(raw).toContain('"backend":"b')
    expect(raw).not.toContain('"local":true')
  })

  it('closing the app closes the upstream pools and removes the upgrade listener', async () => {
    const { app, url } = await start((a) =>
      a.register(fastifyProxy, { balancer: lb, prefix: '/api', upstream: { keepAliveTimeoutMs: 60_000 } }),
    )
    for (let i = 0; i < 6; i++) await call(`${url}/api/x`)
    const pooled = () => backends.reduce((n, b) => n + b.sockets.size, 0)
    expect(pooled()).toBeGreaterThan(0)
    expect(app.server.listenerCount('upgrade')).toBe(1)
    await app.close()
    apps.splice(apps.indexOf(app), 1)
    expect(app.server.listenerCount('upgrade')).toBe(0)
    const deadline = Date.now() + 2_000
    while (pooled() > 0 && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 10))
    expect(pooled()).toBe(0)
  })

  it('reports bad options when the app starts', async () => {
    const noBalancer = Fastify()
    noBalancer.register(fastifyProxy, { prefix: '/api' } as never)
    await expect(noBalancer.ready()).rejects.toThrow(InvalidOptionError)
    const typo = Fastify()
    typo.register(fastifyProxy, { balancer: lb, retrys: 1 } as never)
    await expect(typo.ready()).rejects.toThrow(/options.retrys/)
    const rewrite = Fastify()
    rewrite.register(fastifyProxy, { balancer: lb, rewritePrefix: 'v2' })
    await expect(rewrite.ready()).rejects.toThrow(/options.rewritePrefix/)
  })
})

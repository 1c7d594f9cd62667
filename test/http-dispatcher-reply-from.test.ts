/**
 * The balanced dispatcher handed to `@fastify/reply-from` through its `undici` option. reply-from
 * accepts a dispatcher instance there (`isUndiciInstance()` in its lib/request.js: a Pool, a Client,
 * any `undici.Dispatcher`, or an object with a `request()` method), calls `request()` on it with its
 * `base` as the origin — which the balanced dispatcher ignores — and, unless `destroyAgent: true`,
 * leaves it open when Fastify closes.
 */
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import replyFrom from '@fastify/reply-from'
import { createBalancer } from '@fulcrum/core'
import { createBalancedDispatcher } from '@fulcrum/http-proxy'
import { roundRobin } from '@fulcrum/strategies'
import Fastify, { type FastifyInstance } from 'fastify'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'

const HOST = '127.0.0.1'
const servers: { server: http.Server; sockets: Set<Socket> }[] = []
const apps: FastifyInstance[] = []
const dispatchers: ReturnType<typeof createBalancedDispatcher>[] = []

async function backend(name: string): Promise<{ url: string; paths: string[] }> {
  const paths: string[] = []
  const sockets = new Set<Socket>()
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? '')
    req.resume()
    req.on('end', () => {
      res.setHeader('x-backend', name)
      res.end(`${name} ${req.method} ${req.url}`)
    })
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  servers.push({ server, sockets })
  server.listen(0, HOST)
  await once(server, 'listening')
  return { url: `http://${HOST}:${(server.address() as AddressInfo).port}`, paths }
}

async function refusedUrl(): Promise<string> {
  const server = http.createServer().listen(0, HOST)
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://${HOST}:${port}`
}

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
  await Promise.all(dispatchers.splice(0).map((d) => d.close()))
  for (const { server, sockets } of servers.splice(0)) {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
})

async function gateway(urls: string[]) {
  const lb = createBalancer().backends(urls).strategy(roundRobin()).retry({ retries: 2 }).build()
  const dispatcher = createBalancedDispatcher(lb)
  dispatchers.push(dispatcher)
  const app = Fastify()
  apps.push(app)
  await app.register(replyFrom, { base: 'http://service', undici: dispatcher })
  app.all('/*', (req, reply) => reply.from(req.url))
  await app.listen({ port: 0, host: HOST })
  const port = (app.server.address() as AddressInfo).port
  return { lb, dispatcher, url: `http://${HOST}:${port}` }
}

describe('@fastify/reply-from with { undici: dispatcher }', () => {
  it('balances reply.from() round robin over the backends', async () => {
    const bs = [await backend('a'), await backend('b'), await backend('c')]
    const g = await gateway(bs.map((b) => b.url))
    const seen: string[] = []
    for (let i = 0; i < 6; i++) {
      const res = await request(`${g.url}/items/${i}?q=1`)
      expect(res.statusCode).toBe(200)
      seen.push(String(res.headers['x-backend']))
      expect(await res.body.text()).toMatch(new RegExp(`^[abc] GET /items/${i}\\?q=1$`))
    }
    expect(seen.slice().sort()).toEqual(['a', 'a', 'b', 'b', 'c', 'c'])
    expect(bs.map((b) => b.paths.length)).toEqual([2, 2, 2])
    expect(g.lb.backends().map((b) => b.inflight)).toEqual([0, 0, 0])
  })

  it('a dead backend is routed around: 30 requests, no gateway error', async () => {
    const [a, c] = [await backend('a'), await backend('c')]
    const g = await gateway([a.url, await refusedUrl(), c.url])
    for (let i = 0; i < 30; i++) {
      const post = i % 2 === 1
      const res = await request(`${g.url}/x/${i}`, {
        method: post ? 'POST' : 'GET',
        ...(post ? { body: 'p', headers: { 'content-type': 'text/plain' } } : {}),
      })
      expect(res.statusCode).toBe(200)
      await res.body.dump()
    }
    expect(a.paths.length + c.paths.length).toBe(30)
    expect(g.lb.backends()[1]!.counters).toMatchObject({ successes: 0, lastFailure: 'connect' })
  })

  it('closing Fastify leaves the dispatcher open (reply-from destroys only what it created)', async () => {
    const a = await backend('a')
    const g = await gateway([a.url])
    await (await request(`${g.url}/`)).body.dump()
    await apps.splice(0)[0]!.close()
    expect(g.dispatcher.closed).toBe(false)
    const res = await request('http://service/direct', { dispatcher: g.dispatcher })
    expect(await res.body.text()).toBe('a GET /direct')
  })
})

/**
 * Example 04: a Fastify app that serves its own routes and proxies `/api` to three backends.
 *
 * `app.register(fastifyProxy, { balancer, prefix: '/api' })` routes every method under `/api` to
 * the balancer: `/api/users/42` reaches a backend as `/users/42` (`rewritePrefix` changes that).
 * The plugin is encapsulated: inside it a catch-all content-type parser leaves bodies unread so the
 * raw stream is proxied, while the app's own routes keep Fastify's JSON parser and schemas. An
 * `onRequest` hook of the app guards `/api` before the proxy runs.
 *
 * Run: `pnpm --filter @fulcrum/example-04-fastify-plugin start`.
 */
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createBalancer } from '@fulcrum/core'
import { fastifyProxy } from '@fulcrum/http-proxy'
import { roundRobin } from '@fulcrum/strategies'
import Fastify from 'fastify'

const HOST = '127.0.0.1'

/** A demo backend: answers every request with JSON naming itself, the path it got and the body. */
async function startService(name: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      body += chunk
    })
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ service: name, method: req.method, path: req.url, body: body || undefined }))
    })
  })
  server.listen(0, HOST)
  await once(server, 'listening')
  return server
}

const urlOf = (server: http.Server): string => `http://${HOST}:${(server.address() as AddressInfo).port}`

/** The running example: the app's URL, and `close()` for everything. */
export interface Running {
  readonly url: string
  close(): Promise<void>
}

/** Starts the three services and the Fastify app (port 0 picks a free port). */
export async function start(port = 0): Promise<Running> {
  const services = await Promise.all(['users-1', 'users-2', 'users-3'].map(startService))
  const lb = createBalancer({ name: 'api' })
    .backends(services.map((s, i) => ({ id: `users-${i + 1}`, url: urlOf(s) })))
    .strategy(roundRobin())
    .retry({ retries: 1 })
    .build()

  const app = Fastify()
  app.get('/health', async () => ({ ok: true, backends: lb.snapshot().eligible }))
  app.post('/notes', async (request, reply) => reply.code(201).send({ saved: request.body }))
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith('/api/admin')) return reply.code(403).send({ error: 'forbidden' })
    return undefined
  })
  await app.register(fastifyProxy, { balancer: lb, prefix: '/api' })
  // Closing the app closes the proxy's upstream pools (the plugin's onClose hook).
  app.addHook('onClose', async () => {
    await lb.close()
    await Promise.all(services.map((s) => new Promise((resolve) => s.close(resolve))))
  })

  const url = await app.listen({ port, host: HOST })
  return { url, close: () => app.close() }
}

/** Starts the example, makes a few requests, prints what came back, and stops. */
export async function main(): Promise<void> {
  const { url, close } = await start()
  console.log(`fastify app on ${url}; /api → users-1, users-2, users-3`)
  const show = async (method: string, path: string, body?: unknown): Promise<void> => {
    const res = await fetch(`${url}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    })
    console.log(`${method} ${path} → ${res.status} ${await res.text()}`)
  }
  await show('GET', '/health')
  for (const id of [1, 2, 3]) await show('GET', `/api/users/${id}`)
  await show('POST', '/api/orders', { item: 'book', qty: 2 })
  await show('GET', '/api/admin/users')
  await show('POST', '/notes', { text: 'served by fastify itself' })
  await close()
}

if (import.meta.url === `file://${process.argv[1]}`) await main()

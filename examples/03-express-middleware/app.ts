/**
 * Example 03: an Express app that serves its own routes and proxies `/api` to three backends.
 *
 * `proxyMiddleware(lb)` is mounted at `/api`: Express strips the mount path, so `/api/users/42`
 * reaches a backend as `/users/42`. It is mounted before `express.json()`, so proxied bodies stream
 * through untouched; the app's own routes after it still get parsed JSON. Three loopback "services"
 * stand in for the backends; round-robin spreads the requests over them.
 *
 * Run: `pnpm --filter @fulcrum/example-03-express-middleware start`.
 */
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createBalancer } from '@fulcrum/core'
import { proxyMiddleware } from '@fulcrum/http-proxy'
import { roundRobin } from '@fulcrum/strategies'
import express from 'express'

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

/** Starts the three services and the Express app (port 0 picks a free port). */
export async function start(port = 0): Promise<Running> {
  const services = await Promise.all(['users-1', 'users-2', 'users-3'].map(startService))
  const lb = createBalancer({ name: 'api' })
    .backends(services.map((s, i) => ({ id: `users-${i + 1}`, url: urlOf(s) })))
    .strategy(roundRobin())
    .retry({ retries: 1 })
    .build()
  const api = proxyMiddleware(lb)

  const app = express()
  app.get('/health', (_req, res) => {
    res.json({ ok: true, backends: lb.snapshot().eligible })
  })
  app.use('/api', api) // before express.json(): proxied bodies are streamed, not parsed
  app.use(express.json())
  app.post('/notes', (req, res) => {
    res.status(201).json({ saved: req.body })
  })

  const server = http.createServer(app)
  server.listen(port, HOST)
  await once(server, 'listening')
  return {
    url: urlOf(server),
    async close() {
      const closed = new Promise((resolve) => server.close(resolve))
      server.closeIdleConnections()
      await closed
      await api.close()
      await lb.close()
      await Promise.all(services.map((s) => new Promise((resolve) => s.close(resolve))))
    },
  }
}

/** Starts the example, makes a few requests, prints what came back, and stops. */
export async function main(): Promise<void> {
  const { url, close } = await start()
  console.log(`express app on ${url}; /api → users-1, users-2, users-3`)
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
  await show('POST', '/notes', { text: 'served by express itself' })
  await close()
}

if (import.meta.url === `file://${process.argv[1]}`) await main()

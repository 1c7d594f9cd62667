/**
 * The proxy under its own and its users' mistakes: hooks that throw, the balancer's overall
 * deadline and per-try timeout, a retryable status with no backend left to retry on, the
 * keep-alive race on a single backend, and shutdown with WebSocket tunnels open.
 */
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createBalancer } from '@fulcrum/core'
import { createHttpProxy, type HttpProxyOptions, listen, type ProxyError } from '@fulcrum/http-proxy'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'

const HOST = '127.0.0.1'
const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function backend(handler: http.RequestListener): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer(handler).listen(0, HOST)
  await once(server, 'listening')
  cleanups.push(async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })
  return { url: `http://${HOST}:${(server.address() as AddressInfo).port}`, server }
}

async function gateway(urls: string[], options: HttpProxyOptions = {}, retry?: object) {
  const builder = createBalancer().backends(urls)
  const lb = (retry === undefined ? builder : builder.retry(retry)).build()
  const errors: ProxyError[] = []
  const logs: number[] = []
  const proxy = createHttpProxy(lb, {
    ...options,
    onLog: (ctx) => {
      logs.push(ctx.status)
      if (ctx.error) errors.push(ctx.error)
      options.onLog?.(ctx)
    },
  })
  const server = proxy.attach(http.createServer(proxy)).listen(0, HOST)
  await once(server, 'listening')
  cleanups.push(async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
    await proxy.close()
  })
  return { lb, url: `http://${HOST}:${(server.address() as AddressInfo).port}`, errors, logs }
}

describe('hooks that throw', () => {
  it.each(['onRequest', 'onUpstreamRequest', 'onUpstreamResponse'] as const)(
    'a throwing %s answers 500 FULCRUM_ERR_HOOK, blames no backend, and the proxy keeps serving',
    async (hook) => {
      const b = await backend((_req, res) => res.end('ok'))
      let calls = 0
      const g = await gateway([b.url], {
        [hook]: () => {
          if (calls++ === 0) throw new Error('boom')
        },
      })
      const first = await request(`${g.url}/`)
      expect(first.statusCode).toBe(500)
      await first.body.text()
      expect(g.errors.map((e) => e.code)).toEqual(['FULCRUM_ERR_HOOK'])
      expect(g.lb.backends()[0]!.counters.failures).toBe(0)
      const second = await request(`${g.url}/`)
      expect(second.statusCode).toBe(200)
      expect(await second.body.text()).toBe('ok')
    },
  )

  it('a throwing onLog and a throwing onError do not crash the process', async () => {
    const g = await gateway([`http://${HOST}:1`], {
      onLog: () => {
        throw new Error('logger down')
      },
      onError: () => {
        throw new Error('renderer down')
      },
    })
    const res = await request(`${g.url}/`)
    expect(res.statusCode).toBe(502)
    await res.body.text()
  })
})

describe('deadlines', () => {
  it('the balancer’s overall deadline (retry.timeoutMs) ends a slow request with 504', async () => {
    const b = await backend((_req, res) => setTimeout(() => res.end('late'), 2_000))
    const g = await gateway([b.url], {}, { retries: 0, timeoutMs: 150 })
    const started = Date.now()
    const res = await request(`${g.url}/`)
    expect(res.statusCode).toBe(504)
    await res.body.text()
    expect(Date.now() - started).toBeLessThan(1_500)
    expect(g.errors[0]?.code).toBe('FULCRUM_ERR_UPSTREAM_TIMEOUT')
    expect(g.lb.backends()[0]!.inflight).toBe(0)
  })

  it('the per-try timeout (retry.perTryTimeoutMs) moves a GET to the next backend', async () => {
    const slow = await backend((_req, res) => setTimeout(() => res.end('slow'), 3_000))
    const fast = await backend((_req, res) => res.end('fast'))
    const g = await gateway([slow.url, fast.url], {}, { retries: 1, perTryTimeoutMs: 200 })
    const bodies = new Set<string>()
    for (let i = 0; i < 4; i++) {
      const res = await request(`${g.url}/`)
      expect(res.statusCode).toBe(200)
      bodies.add(await res.body.text())
    }
    expect([...bodies]).toEqual(['fast'])
  })
})

describe('retries with nowhere to go', () => {
  it('a 503 from the only backend reaches the client as sent (headers and body), at once', async () => {
    const b = await backend((_req, res) => {
      res.writeHead(503, { 'retry-after': '7', 'x-origin': 'yes' })
      res.end('maintenance')
    })
    const g = await gateway([b.url], {}, { retries: 2 })
    const started = Date.now()
    const res = await request(`${g.url}/`)
    expect(res.statusCode).toBe(503)
    expect(res.headers['retry-after']).toBe('7')
    expect(res.headers['x-origin']).toBe('yes')
    expect(await res.body.text()).toBe('maintenance')
    expect(Date.now() - started).toBeLessThan(1_000)
  })

  it('a reset on the only backend is sent once more to it (the keep-alive race), not failed', async () => {
    let hits = 0
    const b = await backend((req, res) => {
      if (hits++ === 0) {
        req.socket.destroy()
        return
      }
      res.end('second time lucky')
    })
    const g = await gateway([b.url], {}, { retries: 2 })
    const res = await request(`${g.url}/`)
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe('second time lucky')
    expect(hits).toBe(2)
  })

  it('a POST that hits a reset is never sent again', async () => {
    let hits = 0
    const b = await backend((req) => {
      hits++
      req.on('data', () => req.socket.destroy())
    })
    const g = await gateway([b.url], {}, { retries: 2 })
    const res = await request(`${g.url}/`, { method: 'POST', body: 'once' })
    expect(res.statusCode).toBe(502)
    await res.body.text()
    expect(hits).toBe(1)
  })
})

describe('shutdown', () => {
  it('listen().close() ends open WebSocket tunnels instead of waiting for them', async () => {
    const server = http.createServer()
    const wss = new WebSocketServer({ server })
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(m)))
    server.listen(0, HOST)
    await once(server, 'listening')
    cleanups.push(async () => {
      for (const c of wss.clients) c.terminate()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    })
    const lb = createBalancer()
      .backends([`http://${HOST}:${(server.address() as AddressInfo).port}`])
      .build()
    const p = await listen(lb, { port: 0, host: HOST })
    const ws = new WebSocket(`ws://${HOST}:${p.port}/`)
    ws.on('error', () => {})
    await once(ws, 'open')
    const started = Date.now()
    const closed = once(ws, 'close')
    await p.close()
    await closed
    expect(Date.now() - started).toBeLessThan(2_000)
  })
})

/**
 * Admission control through the HTTP proxy, the balanced dispatcher and WebSocket handshakes, with
 * a tiny inline limiter plugin (`admit` + a queue with `waitForCapacity`) against real loopback
 * backends: a refused pick is a 503 `FULCRUM_ERR_OVERLOAD` with `Retry-After`, never retried and
 * never booked on a backend; a queued request proceeds when a slot frees, times out with a 503,
 * and leaves the queue when its client goes away.
 */
import { once } from 'node:events'
import http, { type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createBalancer, OverloadError, type Plugin } from '@fulcrum/core'
import { createBalancedDispatcher, type ProxyError } from '@fulcrum/http-proxy'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import {
  type BackendHandler,
  HOST,
  HttpHarness,
  inOrder,
  installCrashGuard,
  settledLogs,
  waitFor,
} from './http-failure-helpers.js'
import { limiter } from './inline-limiter.js'

installCrashGuard()
const h = new HttpHarness()
afterEach(() => h.closeAll())

/** A backend that answers only when the test calls `release()` (oldest first). */
function slowBackend(): { handler: BackendHandler; release: () => void; releaseAll: () => void } {
  const held: (() => void)[] = []
  return {
    handler: (req, res, backend) => {
      req.resume()
      held.push(() => res.writeHead(200, { 'x-backend': backend.name }).end('slow'))
    },
    release: () => held.shift()?.(),
    releaseAll: () => {
      for (const answer of held.splice(0)) answer()
    },
  }
}

describe('http proxy overload', () => {
  it('a third request over a limit of 2: 503 FULCRUM_ERR_OVERLOAD with Retry-After, not booked', async () => {
    const slow = slowBackend()
    const [b] = await h.backends(1, slow.handler)
    const lim = limiter(2)
    const lb = createBalancer().backends([b!.url]).use(lim.plugin).retry({ retries: 2 }).build()
    const seen: ProxyError[] = []
    const p = await h.proxy(lb, { onError: (_ctx, err) => void seen.push(err) })
    const held = [h.get(`${p.url}/1`), h.get(`${p.url}/2`)]
    await waitFor(() => b!.hits === 2)
    const third = await h.get(`${p.url}/3`)
    expect(third.status).toBe(503)
    // `admit` answers a boolean: the core refuses with its default hint (1000 ms → 1 s).
    expect(third.headers['retry-after']).toBe('1')
    expect(third.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(third.text).toBe('503 Service Unavailable\n')
    expect(b!.hits).toBe(2)
    const [log] = await settledLogs(p, 1)
    expect(log).toMatchObject({ url: '/3', status: 503, attempts: 0, backendId: undefined })
    expect(log!.error).toMatchObject({ isProxyError: true, code: 'FULCRUM_ERR_OVERLOAD', phase: 'connect' })
    expect(p.errors).toEqual([
      { isProxyError: true, code: 'FULCRUM_ERR_OVERLOAD', status: 503, phase: 'connect' },
    ])
    expect(seen[0]).toMatchObject({ failureKind: 'overload', retryAfterSeconds: 1 })
    expect(seen[0]!.cause).toBeInstanceOf(OverloadError)
    slow.releaseAll()
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200])
    expect(lb.backends()[0]!.counters).toMatchObject({ requests: 2, failures: 0 })
  })

  it('every backend at its per-backend limit (accept + overload): 503 OVERLOAD, not NO_BACKEND', async () => {
    const slow = slowBackend()
    const bs = await h.backends(2, slow.handler)
    const perBackend: Plugin = { name: 'one-each', overload: true, accept: (b) => b.inflight < 1 }
    const lb = createBalancer()
      .backends(bs.map((b) => b.url))
      .use(perBackend)
      .retry({ retries: 2 })
      .build()
    const p = await h.proxy(lb)
    const held = [h.get(`${p.url}/1`), h.get(`${p.url}/2`)]
    await waitFor(() => bs[0]!.hits + bs[1]!.hits === 2)
    const third = await h.get(`${p.url}/3`)
    expect(third.status).toBe(503)
    expect(third.headers['retry-after']).toBe('1') // the core's default hint: 1000 ms
    const [log] = await settledLogs(p, 1)
    expect(log!.error).toMatchObject({ code: 'FULCRUM_ERR_OVERLOAD' })
    slow.releaseAll()
    await Promise.all(held)
  })

  it('a retry refused by admission answers the previous attempt error, and never queues', async () => {
    const [live] = await h.backends(1)
    const dead = await h.refusedUrl()
    const lim = limiter(0, { size: 10, timeoutMs: 5_000 })
    const full: Plugin = {
      ...lim.plugin,
      admit: () => true,
      overload: true,
      accept: (b) => b.port !== live!.port,
    }
    const lb = createBalancer()
      .backends([dead, live!.url])
      .strategy(inOrder)
      .use(full)
      .retry({ retries: 1 })
      .build()
    const p = await h.proxy(lb)
    const started = Date.now()
    const res = await h.get(`${p.url}/x`)
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(res.status).toBe(502)
    const [log] = await settledLogs(p, 1)
    expect(log!.error).toMatchObject({ code: 'FULCRUM_ERR_UPSTREAM_CONNECT' })
    expect(lim.queued).toBe(0)
    expect(live!.hits).toBe(0)
  })

  it('with a queue of 1: the queued request is served when a slot frees; a full queue is refused', async () => {
    const slow = slowBackend()
    const [b] = await h.backends(1, slow.handler)
    const lim = limiter(2, { size: 1, timeoutMs: 5_000 })
    const lb = createBalancer().backends([b!.url]).use(lim.plugin).build()
    const p = await h.proxy(lb)
    const held = [h.get(`${p.url}/1`), h.get(`${p.url}/2`)]
    await waitFor(() => b!.hits === 2)
    const queued = h.get(`${p.url}/3`)
    await waitFor(() => lim.waiting === 1, 2_000, 'the third request queued')
    const refused = await h.get(`${p.url}/4`)
    expect(refused.status).toBe(503)
    expect(refused.headers['retry-after']).toBe('3') // the queue's own OverloadError: ceil(2500 / 1000)
    expect(b!.hits).toBe(2)
    slow.release()
    await waitFor(() => b!.hits === 3, 2_000, 'the queued request reached the backend')
    expect(lim.waiting).toBe(0)
    slow.releaseAll()
    expect((await queued).status).toBe(200)
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200])
    const logs = await settledLogs(p, 4)
    expect(logs.find((l) => l.url === '/3')).toMatchObject({ status: 200, attempts: 1, error: undefined })
    expect(logs.find((l) => l.url === '/4')!.error).toMatchObject({ code: 'FULCRUM_ERR_OVERLOAD' })
  })

  it('a queued request past the queue timeout: 503 FULCRUM_ERR_OVERLOAD', async () => {
    const slow = slowBackend()
    const [b] = await h.backends(1, slow.handler)
    const lim = limiter(2, { size: 1, timeoutMs: 150 }, 0)
    const lb = createBalancer().backends([b!.url]).use(lim.plugin).build()
    const p = await h.proxy(lb)
    const held = [h.get(`${p.url}/1`), h.get(`${p.url}/2`)]
    await waitFor(() => b!.hits === 2)
    const started = Date.now()
    const res = await h.get(`${p.url}/3`)
    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
    expect(res.status).toBe(503)
    expect(res.headers['retry-after']).toBe('1') // a hint of 0 ms still says 1 s
    const [log] = await settledLogs(p, 1)
    expect(log!.error).toMatchObject({ code: 'FULCRUM_ERR_OVERLOAD', status: 503 })
    expect(lim.waiting).toBe(0)
    expect(b!.hits).toBe(2)
    slow.releaseAll()
    await Promise.all(held)
  })

  it('a client that leaves while queued frees its queue slot; nothing reaches the backend', async () => {
    const slow = slowBackend()
    const [b] = await h.backends(1, slow.handler)
    const lim = limiter(2, { size: 1, timeoutMs: 5_000 })
    const lb = createBalancer().backends([b!.url]).use(lim.plugin).build()
    const p = await h.proxy(lb)
    const held = [h.get(`${p.url}/1`), h.get(`${p.url}/2`)]
    await waitFor(() => b!.hits === 2)
    const ac = new AbortController()
    const gone = h.request(`${p.url}/3`, { signal: ac.signal }).then(
      () => 'answered',
      () => 'aborted',
    )
    await waitFor(() => lim.waiting === 1, 2_000, 'the third request queued')
    ac.abort()
    expect(await gone).toBe('aborted')
    await waitFor(() => lim.waiting === 0, 2_000, 'the queue slot freed')
    const [log] = await settledLogs(p, 1)
    expect(log).toMatchObject({ url: '/3', status: 0, attempts: 0 })
    expect(log!.error).toMatchObject({ code: 'FULCRUM_ERR_CLIENT_ABORTED' })
    expect(p.errors).toEqual([])
    // The slot is free for the next one: it queues (not refused as a full queue) and is served.
    const next = h.get(`${p.url}/4`)
    await waitFor(() => lim.waiting === 1, 2_000, 'the fourth request queued')
    slow.releaseAll()
    await waitFor(() => b!.hits === 3)
    slow.releaseAll()
    expect((await next).status).toBe(200)
    await Promise.all(held)
    expect(b!.requests.map((r) => r.url)).toEqual(['/1', '/2', '/4'])
    await waitFor(() => lim.active === 0 && lb.backends()[0]!.inflight === 0)
  })

  it('the overall deadline passing while queued: 504, the wait is aborted, nothing is sent', async () => {
    const [b] = await h.backends(1)
    const lim = limiter(1, { size: 1, timeoutMs: 5_000 })
    const lb = createBalancer().backends([b!.url]).use(lim.plugin).retry({ timeoutMs: 200 }).build()
    const p = await h.proxy(lb)
    const lease = lb.pick() // holds the only slot
    const started = Date.now()
    const res = await h.get(`${p.url}/x`)
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(res.status).toBe(504)
    expect(lim.queued).toBe(1)
    expect(lim.waiting).toBe(0)
    const [log] = await settledLogs(p, 1)
    expect(log!.error).toMatchObject({ code: 'FULCRUM_ERR_UPSTREAM_TIMEOUT' })
    lease.release()
    expect(b!.hits).toBe(0)
  })
})

describe('balanced dispatcher overload', () => {
  it('the caller gets the OverloadError (FULCRUM_ERR_OVERLOAD), nothing is sent', async () => {
    const slow = slowBackend()
    const [b] = await h.backends(1, slow.handler)
    const lim = limiter(1)
    const lb = h.track(createBalancer().backends([b!.url]).use(lim.plugin).retry({ retries: 2 }).build())
    const d = createBalancedDispatcher(lb)
    h.onClose(() => d.destroy())
    const first = request('http://service/1', { dispatcher: d })
    await waitFor(() => b!.hits === 1)
    const err = await request('http://service/2', { dispatcher: d }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(OverloadError)
    expect(err).toMatchObject({ code: 'FULCRUM_ERR_OVERLOAD', source: 'test-limit', retryAfterMs: 1_000 })
    expect(b!.hits).toBe(1)
    slow.releaseAll()
    expect((await first).statusCode).toBe(200)
    await waitFor(() => d.active === 0)
  })

  it('with a queue: a queued request is sent when the slot frees; an aborted one leaves the queue', async () => {
    const slow = slowBackend()
    const [b] = await h.backends(1, slow.handler)
    const lim = limiter(1, { size: 1, timeoutMs: 5_000 })
    const lb = h.track(createBalancer().backends([b!.url]).use(lim.plugin).build())
    const d = createBalancedDispatcher(lb)
    h.onClose(() => d.destroy())
    const first = request('http://service/1', { dispatcher: d })
    await waitFor(() => b!.hits === 1)
    const ac = new AbortController()
    const aborted = request('http://service/2', { dispatcher: d, signal: ac.signal }).then(
      () => undefined,
      (e: unknown) => e,
    )
    await waitFor(() => lim.waiting === 1)
    ac.abort()
    expect(await aborted).toMatchObject({ name: 'AbortError' })
    expect(lim.waiting).toBe(0)
    const queued = request('http://service/3', { dispatcher: d })
    await waitFor(() => lim.waiting === 1)
    expect(d.active).toBe(2)
    slow.release()
    await waitFor(() => b!.hits === 2)
    slow.releaseAll()
    const res = await queued
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe('slow')
    await (await first).body.text()
    expect(b!.requests.map((r) => r.url)).toEqual(['/1', '/3'])
    await waitFor(() => d.active === 0 && lim.active === 0)
  })

  it('a request past the queue timeout gets the OverloadError', async () => {
    const slow = slowBackend()
    const [b] = await h.backends(1, slow.handler)
    const lim = limiter(1, { size: 1, timeoutMs: 100 })
    const lb = h.track(createBalancer().backends([b!.url]).use(lim.plugin).build())
    const d = createBalancedDispatcher(lb)
    h.onClose(() => d.destroy())
    const first = request('http://service/1', { dispatcher: d })
    await waitFor(() => b!.hits === 1)
    const err = await request('http://service/2', { dispatcher: d }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toMatchObject({ code: 'FULCRUM_ERR_OVERLOAD', reason: 'queueTimeout' })
    slow.releaseAll()
    await (await first).body.text()
  })
})

describe('WebSocket handshake overload', () => {
  async function wsBackend(): Promise<string> {
    const server = http.createServer((_req, res) => res.end('plain'))
    const wss = new WebSocketServer({ server })
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data)))
    server.listen(0, HOST)
    await once(server, 'listening')
    h.onClose(async () => {
      for (const ws of wss.clients) ws.terminate()
      wss.close()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    })
    return `http://${HOST}:${(server.address() as AddressInfo).port}`
  }

  function client(port: number): WebSocket {
    const ws = new WebSocket(`ws://${HOST}:${port}/chat`)
    ws.on('error', () => {})
    h.onClose(async () => ws.terminate())
    return ws
  }

  it('refused: 503 with Retry-After; queued: opens once the first tunnel closes', async () => {
    const url = await wsBackend()
    const refusing = limiter(1)
    const lb1 = createBalancer().backends([url]).use(refusing.plugin).build()
    const p1 = await h.proxy(lb1)
    const open1 = client(p1.port)
    await once(open1, 'open')
    const [, res] = (await once(client(p1.port), 'unexpected-response')) as [unknown, IncomingMessage]
    expect(res.statusCode).toBe(503)
    expect(res.headers['retry-after']).toBe('1')
    res.resume()
    const [log] = await settledLogs(p1, 1)
    expect(log!.error).toMatchObject({ code: 'FULCRUM_ERR_OVERLOAD' })
    open1.close()

    const queueing = limiter(1, { size: 1, timeoutMs: 5_000 })
    const lb2 = createBalancer().backends([url]).use(queueing.plugin).build()
    const p2 = await h.proxy(lb2)
    const first = client(p2.port)
    await once(first, 'open')
    const second = client(p2.port)
    await waitFor(() => queueing.waiting === 1)
    first.close()
    await once(second, 'open')
    second.send('hi')
    const [data] = (await once(second, 'message')) as [Buffer]
    expect(data.toString()).toBe('hi')
    second.close()
    await waitFor(() => queueing.active === 0)
  })
})

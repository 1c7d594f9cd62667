/**
 * The balanced undici Dispatcher (`createBalancedDispatcher`) against real loopback node:http
 * backends: undici `request`, `fetch`, `stream`, `setGlobalDispatcher` and controller-API handlers;
 * round-robin distribution; failover on dead backends; the retry rules (connect failures always,
 * otherwise idempotent and replayable only, retryable statuses with `Retry-After`, never 4xx);
 * outcomes booked on the backends; cancellation; close/destroy; option validation.
 */
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { type Balancer, createBalancer, type Strategy } from '@fulcrum/core'
import { type BalancedDispatcher, createBalancedDispatcher } from '@fulcrum/http-proxy'
import { keyFromHeader, ringHash, roundRobin } from '@fulcrum/strategies'
import { type Dispatcher, fetch, getGlobalDispatcher, request, setGlobalDispatcher, stream } from 'undici'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

const HOST = '127.0.0.1'

interface Seen {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: string
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void

interface TestBackend {
  readonly name: string
  readonly url: string
  readonly seen: Seen[]
  connections: number
  /** Requests whose connection closed before an answer was sent. */
  cutOff: number
}

const servers: { server: http.Server; sockets: Set<Socket> }[] = []
const dispatchers: BalancedDispatcher<unknown>[] = []

/** Answers 200 with the backend's name, or runs `handler` once the request body arrived. */
async function backend(name: string, handler?: Handler): Promise<TestBackend> {
  const b: TestBackend = { name, url: '', seen: [], connections: 0, cutOff: 0 }
  const sockets = new Set<Socket>()
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('error', () => {})
    res.on('close', () => {
      if (!res.writableFinished) b.cutOff++
    })
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      b.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      if (handler) handler(req, res, body)
      else res.end(name)
    })
  })
  server.on('connection', (s: Socket) => {
    b.connections++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  servers.push({ server, sockets })
  server.listen(0, HOST)
  await once(server, 'listening')
  Object.assign(b, { url: `http://${HOST}:${(server.address() as AddressInfo).port}` })
  return b
}

/** A URL nothing listens on (connect refused). */
async function refusedUrl(): Promise<string> {
  const server = http.createServer()
  server.listen(0, HOST)
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://${HOST}:${port}`
}

/** Picks the first eligible backend not tried yet: makes the order of attempts deterministic. */
const inOrder: Strategy = {
  name: 'in-order',
  build: (snap) => ({ select: (_ctx, skip) => snap.eligible.find((b) => !skip.has(b)) }),
}

type RetryOptions = NonNullable<Parameters<ReturnType<typeof createBalancer>['retry']>[0]>

function balancer(
  urls: readonly string[],
  strategy: Strategy = inOrder,
  retry: RetryOptions = { retries: 2 },
) {
  return createBalancer().backends(urls).strategy(strategy).retry(retry).build()
}

function dispatcherFor<Ctx>(
  lb: Balancer<Ctx>,
  options?: Parameters<typeof createBalancedDispatcher<Ctx>>[1],
) {
  const d = createBalancedDispatcher(lb, options)
  dispatchers.push(d as BalancedDispatcher<unknown>)
  return d
}

async function get(d: Dispatcher, path = '/', options: Partial<Dispatcher.RequestOptions> = {}) {
  const res = await request(`http://service${path}`, { dispatcher: d, ...options })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

const inflight = (lb: Balancer<never> | Balancer) => lb.backends().map((b) => b.inflight)

afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.destroy().catch(() => {})))
  for (const { server, sockets } of servers.splice(0)) {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
})

describe('undici APIs', () => {
  it('request(): any origin goes to a picked backend, with its path, query and the backend as Host', async () => {
    const a = await backend('a')
    const d = dispatcherFor(balancer([a.url]))
    const res = await request('http://users.internal/api/users?id=42', { dispatcher: d })
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe('a')
    expect(a.seen[0]).toMatchObject({ method: 'GET', url: '/api/users?id=42' })
    expect(a.seen[0]!.headers.host).toBe(new URL(a.url).host)
  })

  it('fetch(): GET and a POST with a JSON body', async () => {
    const a = await backend('a', (_req, res, body) => res.end(`got ${body}`))
    const d = dispatcherFor(balancer([a.url]))
    const r1 = await fetch('http://service/x', { dispatcher: d })
    expect(r1.status).toBe(200)
    expect(await r1.text()).toBe('got ')
    const r2 = await fetch('http://service/y', {
      dispatcher: d,
      method: 'POST',
      body: JSON.stringify({ n: 1 }),
      headers: { 'content-type': 'application/json' },
    })
    expect(await r2.text()).toBe('got {"n":1}')
    expect(a.seen[1]).toMatchObject({ method: 'POST', url: '/y', body: '{"n":1}' })
  })

  describe('setGlobalDispatcher()', () => {
    let previous: Dispatcher | undefined
    afterEach(() => {
      if (previous !== undefined) setGlobalDispatcher(previous)
      previous = undefined
    })

    it("balances undici's request() and Node's global fetch() without a dispatcher option", async () => {
      const [a, b] = [await backend('a'), await backend('b')]
      const d = dispatcherFor(balancer([a.url, b.url], roundRobin()))
      previous = getGlobalDispatcher()
      setGlobalDispatcher(d)
      const names: string[] = []
      for (let i = 0; i < 2; i++) names.push(await (await request('http://service/u')).body.text())
      for (let i = 0; i < 2; i++) names.push(await (await globalThis.fetch('http://service/g')).text())
      expect(names.sort()).toEqual(['a', 'a', 'b', 'b'])
    })
  })

  it('stream(): the body goes to the factory’s writable', async () => {
    const a = await backend('a', (_req, res) => res.end('streamed body'))
    const d = dispatcherFor(balancer([a.url]))
    const chunks: Buffer[] = []
    const data = await stream<Buffer[]>(
      'http://service/s',
      { dispatcher: d, method: 'GET', opaque: chunks },
      ({ statusCode, opaque }) => {
        expect(statusCode).toBe(200)
        return new Writable({
          write(chunk: Buffer, _enc, cb) {
            opaque.push(chunk)
            cb()
          },
        })
      },
    )
    expect(Buffer.concat(chunks).toString()).toBe('streamed body')
    expect(data.opaque).toBe(chunks)
  })

  it('a controller-API handler (onRequestStart …) and a composed dispatcher work too', async () => {
    const a = await backend('a', (_req, res) => {
      res.setHeader('x-b', ['1', '2'])
      res.end('modern')
    })
    const d = dispatcherFor(balancer([a.url]))
    const events: string[] = []
    const chunks: Buffer[] = []
    const done = new Promise<Record<string, unknown>>((resolve, reject) => {
      d.dispatch(
        { origin: 'http://service', path: '/m', method: 'GET' },
        {
          onRequestStart: () => events.push('start'),
          onResponseStart: (_c, status, headers) => {
            events.push(`status ${status}`)
            resolve(headers)
          },
          onResponseData: (_c, chunk) => chunks.push(chunk),
          onResponseEnd: () => events.push('end'),
          onResponseError: (_c, err) => reject(err),
        },
      )
    })
    expect(await done).toMatchObject({ 'x-b': ['1', '2'] })
    await new Promise((r) => setTimeout(r, 20))
    expect(events).toEqual(['start', 'status 200', 'end'])
    expect(Buffer.concat(chunks).toString()).toBe('modern')
    // compose() wraps handlers into the controller API before they reach the balanced dispatcher
    const composed = d.compose((dispatch) => (opts, handler) => dispatch(opts, handler))
    const res = await request('http://service/c', { dispatcher: composed })
    expect(await res.body.text()).toBe('modern')
  })

  it('keeps connections alive: 20 sequential requests reuse the pooled connections', async () => {
    const a = await backend('a')
    const d = dispatcherFor(balancer([a.url]))
    for (let i = 0; i < 20; i++) expect((await get(d, `/${i}`)).status).toBe(200)
    // a plain undici Pool opens a second connection in this loop too (idle-socket validation)
    expect(a.connections).toBeLessThanOrEqual(2)
  })
})

describe('balancing', () => {
  it('distributes round robin over three backends', async () => {
    const bs = [await backend('a'), await backend('b'), await backend('c')]
    const lb = balancer(
      bs.map((b) => b.url),
      roundRobin(),
    )
    const d = dispatcherFor(lb)
    const names: string[] = []
    for (let i = 0; i < 30; i++) names.push((await get(d, `/${i}`)).text)
    expect(bs.map((b) => b.seen.length)).toEqual([10, 10, 10])
    // strict rotation: every window of three holds each backend once
    for (let i = 0; i < 30; i += 3) expect(new Set(names.slice(i, i + 3)).size).toBe(3)
    expect(lb.backends().map((b) => b.counters.successes)).toEqual([10, 10, 10])
    expect(inflight(lb)).toEqual([0, 0, 0])
  })

  it('the default pick context carries the request headers (hashing by header)', async () => {
    const bs = [await backend('a'), await backend('b'), await backend('c')]
    const lb = createBalancer()
      .backends(bs.map((b) => b.url))
      .strategy(ringHash({ key: keyFromHeader('x-user-id') }))
      .build()
    const d = dispatcherFor(lb)
    for (const user of ['u1', 'u2', 'u3', 'u4']) {
      const first = (await get(d, '/', { headers: { 'X-User-Id': user } })).text
      for (let i = 0; i < 4; i++)
        expect((await get(d, '/', { headers: ['x-user-id', user] })).text).toBe(first)
    }
  })

  it('a context option builds the pick context from the dispatch options', async () => {
    const bs = [await backend('a'), await backend('b')]
    const byKey: Strategy<{ key: string }> = {
      name: 'by-key',
      build: (snap) => ({ select: (ctx) => snap.eligible.find((b) => String(b.port) === ctx.key) }),
    }
    const lb = createBalancer<{ key: string }>()
      .backends(bs.map((b) => b.url))
      .strategy(byKey)
      .build()
    const port = new URL(bs[1]!.url).port
    const d = dispatcherFor(lb, { context: (opts) => ({ key: opts.path === '/two' ? port : 'none' }) })
    expect((await get(d, '/two')).text).toBe('b')
    await expect(get(d, '/one')).rejects.toMatchObject({ code: 'FULCRUM_ERR_NO_BACKEND' })
  })
})

describe('failover and retries', () => {
  it('one of three backends refuses connections: 100 GETs, zero errors', async () => {
    const [a, c] = [await backend('a'), await backend('c')]
    const lb = balancer([a.url, await refusedUrl(), c.url], roundRobin())
    const d = dispatcherFor(lb)
    const statuses: number[] = []
    for (let i = 0; i < 100; i++) statuses.push((await get(d, `/${i}`)).status)
    expect(statuses).toEqual(Array(100).fill(200))
    expect(a.seen.length + c.seen.length).toBe(100)
    const dead = lb.backends()[1]!.counters
    expect(dead.failures).toBeGreaterThanOrEqual(1)
    expect(dead).toMatchObject({ successes: 0, lastFailure: 'connect' })
    expect(inflight(lb)).toEqual([0, 0, 0])
  })

  it('200 concurrent requests (50 at a time) with one dead backend: all 200, counts back to 0', async () => {
    const [a, c] = [await backend('a'), await backend('c')]
    const lb = balancer([a.url, await refusedUrl(), c.url], roundRobin(), { retries: 2, budget: false })
    const d = dispatcherFor(lb)
    let next = 0
    const statuses: number[] = []
    const worker = async () => {
      while (next < 200) statuses.push((await get(d, `/${next++}`)).status)
    }
    await Promise.all(Array.from({ length: 50 }, worker))
    expect(statuses.filter((x) => x === 200)).toHaveLength(200)
    expect(inflight(lb)).toEqual([0, 0, 0])
    expect(d.active).toBe(0)
  })

  it('a POST is retried when the connection was refused (nothing was sent)', async () => {
    const b = await backend('b', (_req, res, body) => res.end(`b got ${body}`))
    const lb = balancer([await refusedUrl(), b.url])
    const d = dispatcherFor(lb)
    const res = await get(d, '/p', { method: 'POST', body: 'payload' })
    expect(res).toMatchObject({ status: 200, text: 'b got payload' })
    expect(lb.backends()[0]!.counters).toMatchObject({ failures: 1, lastFailure: 'connect' })
  })

  it('a POST is not retried after a reset in the middle of the exchange', async () => {
    const reset: Handler = (req) => req.socket.destroy()
    const [a, b] = [await backend('a', reset), await backend('b')]
    const lb = balancer([a.url, b.url])
    const d = dispatcherFor(lb)
    await expect(get(d, '/p', { method: 'POST', body: 'payload' })).rejects.toMatchObject({
      code: 'UND_ERR_SOCKET',
    })
    expect(a.seen).toHaveLength(1)
    expect(b.seen).toHaveLength(0)
    expect(lb.backends()[0]!.counters).toMatchObject({ failures: 1, lastFailure: 'reset' })
    expect(inflight(lb)).toEqual([0, 0])
    // the same failure on a GET goes to the next backend
    expect(await get(d, '/g')).toMatchObject({ status: 200, text: 'b' })
    expect(a.seen).toHaveLength(2)
  })

  it('a streamed POST body is sent once: not replayed after a reset', async () => {
    const reset: Handler = (req) => req.socket.destroy()
    const [a, b] = [await backend('a', reset), await backend('b')]
    const d = dispatcherFor(balancer([a.url, b.url]))
    await expect(
      fetch('http://service/p', { dispatcher: d, method: 'PUT', body: 'x'.repeat(10) }),
    ).rejects.toThrow()
    expect(a.seen).toHaveLength(1)
    expect(b.seen).toHaveLength(0)
  })

  it('503 is retried on another backend after the capped Retry-After; the 503 body is drained', async () => {
    const busy: Handler = (_req, res) => {
      res.writeHead(503, { 'retry-after': '1', 'content-type': 'text/plain' })
      res.end('busy '.repeat(1000))
    }
    const [a, b] = [await backend('a', busy), await backend('b')]
    const lb = balancer([a.url, b.url], inOrder, { retries: 2, retryAfterMaxMs: 50 })
    const delays: number[] = []
    lb.on('request:retry', (e) => delays.push(e.delayMs))
    const d = dispatcherFor(lb)
    const started = Date.now()
    expect(await get(d, '/r')).toMatchObject({ status: 200, text: 'b' })
    expect(Date.now() - started).toBeGreaterThanOrEqual(45)
    expect(delays).toEqual([50])
    expect(lb.backends()[0]!.counters).toMatchObject({ failures: 1, lastFailure: 'status' })
    expect(lb.backends()[1]!.counters).toMatchObject({ successes: 1 })
    expect(inflight(lb)).toEqual([0, 0])
    // the 503's body was read to its end, so its connection stays usable
    await get(d, '/again')
    expect(a.connections).toBe(1)
  })

  it('when every backend answers 503, the last answer is delivered as it is, after 1 + retries attempts', async () => {
    const busy =
      (name: string): Handler =>
      (_req, res) => {
        res.writeHead(503, { 'x-from': name })
        res.end(`busy ${name}`)
      }
    const bs = [
      await backend('a', busy('a')),
      await backend('b', busy('b')),
      await backend('c', busy('c')),
      await backend('d', busy('d')),
    ]
    const lb = balancer(
      bs.map((b) => b.url),
      inOrder,
      { retries: 2, retryAfterMaxMs: 50 },
    )
    const d = dispatcherFor(lb)
    const res = await get(d, '/r')
    expect(res).toMatchObject({ status: 503, text: 'busy c', headers: { 'x-from': 'c' } })
    expect(bs.map((b) => b.seen.length)).toEqual([1, 1, 1, 0])
    expect(inflight(lb)).toEqual([0, 0, 0, 0])
  })

  it('when the retry cannot happen after the backoff, the discarded 503 is delivered as it was', async () => {
    const size = { n: 10 }
    const busy: Handler = (_req, res) => {
      res.writeHead(503, { 'retry-after': '1', 'x-from': 'a' })
      res.end('z'.repeat(size.n))
    }
    const [a, b] = [await backend('a', busy), await backend('b')]
    const lb = balancer([a.url, b.url], inOrder, { retries: 2, retryAfterMaxMs: 100 })
    lb.on('request:retry', () => setTimeout(() => lb.disable(lb.backends()[1]!.id), 10))
    const d = dispatcherFor(lb)
    const res = await get(d, '/r')
    expect(res).toMatchObject({ status: 503, text: 'z'.repeat(10), headers: { 'x-from': 'a' } })
    // an answer too large to keep: the caller gets a status error instead
    lb.enable(lb.backends()[1]!.id)
    size.n = 100_000
    await expect(get(d, '/r')).rejects.toMatchObject({ code: 'FULCRUM_ERR_UPSTREAM_STATUS', status: 503 })
    expect(b.seen).toHaveLength(0)
    expect(inflight(lb)).toEqual([0, 0])
    expect(d.active).toBe(0)
  })

  it('a 503 is delivered at once when the retry budget is spent', async () => {
    const busy: Handler = (_req, res) => {
      res.statusCode = 503
      res.end('busy')
    }
    const [a, b] = [await backend('a', busy), await backend('b')]
    const lb = balancer([a.url, b.url], inOrder, { retries: 2, budget: { percent: 0, minPerSecond: 0 } })
    let denied = 0
    lb.on('request:retry-denied', () => denied++)
    const d = dispatcherFor(lb)
    expect(await get(d, '/r')).toMatchObject({ status: 503, text: 'busy' })
    expect(denied).toBe(1)
    expect(b.seen).toHaveLength(0)
  })

  it('4xx, unlisted 5xx and non-idempotent requests are not retried', async () => {
    const status =
      (code: number): Handler =>
      (_req, res) => {
        res.statusCode = code
        res.end(String(code))
      }
    for (const [code, method] of [
      [404, 'GET'],
      [429, 'GET'],
      [500, 'GET'],
      [503, 'POST'],
    ] as const) {
      const [a, b] = [await backend('a', status(code)), await backend('b')]
      const d = dispatcherFor(balancer([a.url, b.url], inOrder, { retries: 2, retryAfterMaxMs: 10 }))
      expect(await get(d, '/x', { method, body: method === 'POST' ? 'p' : null })).toMatchObject({
        status: code,
        text: String(code),
      })
      expect(b.seen).toHaveLength(0)
    }
  })

  it('retryOnStatus lists what is retried; retries: 0 turns retries off', async () => {
    const teapot: Handler = (_req, res) => {
      res.statusCode = 418
      res.end()
    }
    const [a, b] = [await backend('a', teapot), await backend('b')]
    const d1 = dispatcherFor(balancer([a.url, b.url]), { retryOnStatus: [418] })
    expect((await get(d1, '/')).status).toBe(200)
    const d2 = dispatcherFor(balancer([await refusedUrl(), b.url]), { retries: 0 })
    await expect(get(d2, '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' })
  })

  it('all backends refuse: the connect error after exactly 1 + retries attempts', async () => {
    const urls = [await refusedUrl(), await refusedUrl(), await refusedUrl(), await refusedUrl()]
    const lb = balancer(urls)
    const d = dispatcherFor(lb)
    await expect(get(d, '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    expect(lb.backends().map((b) => b.counters.failures)).toEqual([1, 1, 1, 0])
  })

  it('no eligible backend: NoBackendError; a closed balancer: BalancerClosedError', async () => {
    const a = await backend('a')
    const lb = balancer([a.url])
    const d = dispatcherFor(lb)
    lb.disable(lb.backends()[0]!.id)
    await expect(get(d, '/')).rejects.toMatchObject({ code: 'FULCRUM_ERR_NO_BACKEND' })
    await expect(fetch('http://service/', { dispatcher: d })).rejects.toMatchObject({
      cause: { code: 'FULCRUM_ERR_NO_BACKEND' },
    })
    await lb.close()
    await expect(get(d, '/')).rejects.toMatchObject({ code: 'FULCRUM_ERR_CLOSED' })
  })
})

describe('the balancer’s deadline', () => {
  it('retry.timeoutMs ends a slow request with a 504 FULCRUM_ERR_UPSTREAM_TIMEOUT and frees the backend', async () => {
    const slow = await backend('slow', (_req, res) => {
      setTimeout(() => res.end('late'), 2_000).unref()
    })
    const lb = balancer([slow.url], inOrder, { retries: 0, timeoutMs: 150 })
    const d = dispatcherFor(lb)
    const started = Date.now()
    const err = await get(d).then(
      () => undefined,
      (e: { code?: string; status?: number }) => e,
    )
    expect(err?.code).toBe('FULCRUM_ERR_UPSTREAM_TIMEOUT')
    expect(err?.status).toBe(504)
    expect(Date.now() - started).toBeLessThan(1_500)
    expect(inflight(lb)).toEqual([0])
  })

  it('a request that ends before the deadline is not affected by it', async () => {
    const b = await backend('b')
    const lb = balancer([b.url], inOrder, { retries: 0, timeoutMs: 200 })
    const d = dispatcherFor(lb)
    expect((await get(d)).text).toBe('b')
    await new Promise((r) => setTimeout(r, 300))
    expect((await get(d)).text).toBe('b')
    expect(inflight(lb)).toEqual([0])
  })
})

describe('outcomes and cancellation', () => {
  it('books status, failures and latency on the backends; in-flight counts return to 0', async () => {
    const slow: Handler = (req, res) =>
      setTimeout(() => res.writeHead(req.url === '/500' ? 500 : 200).end(), 20)
    const [a, b] = [await backend('a', slow), await backend('b', slow)]
    const lb = balancer([a.url, b.url], roundRobin())
    const ends: { status: number | undefined; ok: boolean; latencyMs: number }[] = []
    lb.on('request:end', (e) =>
      ends.push({ status: e.outcome.status, ok: e.outcome.ok, latencyMs: e.latencyMs }),
    )
    const d = dispatcherFor(lb)
    const pending = [get(d, '/1'), get(d, '/2'), get(d, '/500'), get(d, '/3')]
    await new Promise((r) => setTimeout(r, 5))
    expect(inflight(lb)).toEqual([2, 2])
    await Promise.all(pending)
    expect(inflight(lb)).toEqual([0, 0])
    const total = lb.backends().reduce((n, x) => n + x.counters.requests, 0)
    expect(total).toBe(4)
    expect(lb.backends().reduce((n, x) => n + x.counters.failures, 0)).toBe(1)
    expect(ends.map((e) => e.status).sort()).toEqual([200, 200, 200, 500])
    expect(ends.every((e) => e.latencyMs >= 15)).toBe(true)
  })

  it('aborting a fetch cancels the upstream request without blaming the backend', async () => {
    const a = await backend('a', () => {})
    const lb = balancer([a.url])
    const d = dispatcherFor(lb)
    const controller = new AbortController()
    const pending = fetch('http://service/hang', { dispatcher: d, signal: controller.signal })
    while (a.seen.length === 0) await new Promise((r) => setTimeout(r, 5))
    controller.abort()
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
    const deadline = Date.now() + 2_000
    while (a.cutOff === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    expect(a.cutOff).toBe(1)
    expect(lb.backends()[0]!.counters).toMatchObject({ cancelled: 1, failures: 0 })
    expect(inflight(lb)).toEqual([0])
    expect(d.active).toBe(0)
  })

  it('controller.abort() of a controller-API handler cancels the upstream request', async () => {
    const a = await backend('a', () => {})
    const lb = balancer([a.url])
    const d = dispatcherFor(lb)
    let controller: Dispatcher.DispatchController | undefined
    const failed = new Promise<Error>((resolve) => {
      d.dispatch(
        { path: '/hang', method: 'GET' },
        {
          onRequestStart: (c) => {
            controller = c
          },
          onResponseError: (_c, err) => resolve(err),
        },
      )
    })
    while (a.seen.length === 0) await new Promise((r) => setTimeout(r, 5))
    controller!.abort(new Error('stop'))
    expect((await failed).message).toBe('stop')
    expect(controller!.aborted).toBe(true)
    const deadline = Date.now() + 2_000
    while (a.cutOff === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
    expect(a.cutOff).toBe(1)
    expect(lb.backends()[0]!.counters).toMatchObject({ cancelled: 1, failures: 0 })
    expect(inflight(lb)).toEqual([0])
  })

  it('aborting during a retry backoff cancels the pending retry', async () => {
    const busy: Handler = (_req, res) => res.writeHead(503, { 'retry-after': '5' }).end()
    const [a, b] = [await backend('a', busy), await backend('b')]
    const lb = balancer([a.url, b.url], inOrder, { retries: 2, retryAfterMaxMs: 5_000 })
    const d = dispatcherFor(lb)
    const controller = new AbortController()
    const started = Date.now()
    const pending = request('http://service/r', { dispatcher: d, signal: controller.signal })
    while (a.seen.length === 0) await new Promise((r) => setTimeout(r, 5))
    await new Promise((r) => setTimeout(r, 20))
    controller.abort()
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
    expect(Date.now() - started).toBeLessThan(2_000)
    await new Promise((r) => setTimeout(r, 50))
    expect(b.seen).toHaveLength(0)
    expect(inflight(lb)).toEqual([0, 0])
    expect(d.active).toBe(0)
  })
})

describe('queued requests and upgrades', () => {
  it('aborting a request still queued in the pool (no connection yet) ends it at once', async () => {
    const a = await backend('a', () => {})
    const lb = balancer([a.url])
    const d = dispatcherFor(lb, { upstream: { connections: 1 } })
    const first = new AbortController()
    const second = new AbortController()
    const p1 = request('http://service/1', { dispatcher: d, signal: first.signal })
    while (a.seen.length === 0) await new Promise((r) => setTimeout(r, 5))
    const p2 = request('http://service/2', { dispatcher: d, signal: second.signal })
    await new Promise((r) => setTimeout(r, 10))
    expect(inflight(lb)).toEqual([2])
    second.abort()
    await expect(p2).rejects.toMatchObject({ name: 'AbortError' })
    expect(inflight(lb)).toEqual([1])
    first.abort()
    await expect(p1).rejects.toMatchObject({ name: 'AbortError' })
    expect(inflight(lb)).toEqual([0])
    await new Promise((r) => setTimeout(r, 50))
    expect(a.seen.map((x) => x.url)).toEqual(['/1'])
    expect(lb.backends()[0]!.counters).toMatchObject({ cancelled: 2, failures: 0 })
    expect(d.active).toBe(0)
  })

  it('a WebSocket opened through the dispatcher is upgraded on a picked backend', async () => {
    const { WebSocketServer } = await import('ws')
    const { WebSocket } = await import('undici')
    const a = await backend('a')
    const server = servers.at(-1)!.server
    const wss = new WebSocketServer({ server })
    wss.on('connection', (socket) => socket.on('message', (m) => socket.send(`echo ${String(m)}`)))
    const lb = balancer([a.url])
    const d = dispatcherFor(lb)
    const ws = new WebSocket('ws://service/chat', { dispatcher: d })
    const reply = await new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send('hi')
      ws.onmessage = (e) => resolve(String(e.data))
      ws.onerror = () => reject(new Error('websocket error'))
    })
    expect(reply).toBe('echo hi')
    ws.close()
    wss.close()
    expect(lb.backends()[0]!.counters).toMatchObject({ successes: 1 })
    expect(inflight(lb)).toEqual([0])
  })
})

const HAS_OPENSSL = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

describe.skipIf(!HAS_OPENSSL)('https backends', () => {
  let cert: Buffer
  let key: Buffer
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'fulcrum-dispatcher-tls-'))
    try {
      execFileSync(
        'openssl',
        [
          ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
          ...['-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=test'],
          ...['-addext', 'subjectAltName=DNS:a.test,DNS:b.test'],
        ],
        { stdio: 'ignore' },
      )
      key = readFileSync(join(dir, 'k.pem'))
      cert = readFileSync(join(dir, 'c.pem'))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  async function httpsBackend(name: string): Promise<string> {
    const sockets = new Set<Socket>()
    const server = https.createServer({ key, cert }, (req, res) => {
      res.end(`${name} sni=${(req.socket as TLSSocket & { servername?: string }).servername}`)
    })
    server.on('secureConnection', (s: Socket) => {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
    })
    servers.push({ server, sockets })
    server.listen(0, HOST)
    await once(server, 'listening')
    return `https://${HOST}:${(server.address() as AddressInfo).port}`
  }

  it('per-backend TLS options: each backend is verified against its own server name', async () => {
    const urls = [await httpsBackend('a'), await httpsBackend('b')]
    const lb = balancer(urls, roundRobin())
    const names = new Map(lb.backends().map((b, i) => [b.id, i === 0 ? 'a.test' : 'b.test']))
    const d = dispatcherFor(lb, { upstream: { tls: (b) => ({ ca: cert, servername: names.get(b.id) }) } })
    const answers = [(await get(d, '/')).text, (await get(d, '/')).text]
    expect(answers.sort()).toEqual(['a sni=a.test', 'b sni=b.test'])
  })

  it('an unverifiable certificate fails (on every backend tried), it is never accepted silently', async () => {
    const urls = [await httpsBackend('a'), await httpsBackend('b')]
    const lb = balancer(urls)
    const d = dispatcherFor(lb)
    await expect(get(d, '/')).rejects.toMatchObject({
      code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_VERIFY/),
    })
    expect(lb.backends().map((b) => b.counters.lastFailure)).toEqual(['connect', 'connect'])
  })
})

describe('lifecycle and options', () => {
  it('close() lets requests in progress finish, then refuses new ones; destroy() cuts them', async () => {
    const slow: Handler = (_req, res) => setTimeout(() => res.end('slow'), 50)
    const a = await backend('a', slow)
    const d = dispatcherFor(balancer([a.url]))
    const pending = get(d, '/')
    await new Promise((r) => setTimeout(r, 10))
    const closed = d.close()
    await expect(get(d, '/')).rejects.toMatchObject({ code: 'UND_ERR_CLOSED' })
    expect((await pending).text).toBe('slow')
    await closed
    expect(d.closed).toBe(true)

    const d2 = dispatcherFor(balancer([a.url]))
    const cut = get(d2, '/')
    await new Promise((r) => setTimeout(r, 10))
    await d2.destroy()
    await expect(cut).rejects.toThrow()
    await expect(get(d2, '/')).rejects.toMatchObject({ code: 'UND_ERR_DESTROYED' })
  })

  it('await using closes it', async () => {
    const a = await backend('a')
    let outer: BalancedDispatcher | undefined
    {
      await using d = createBalancedDispatcher(balancer([a.url]))
      outer = d
      expect((await get(d, '/')).text).toBe('a')
    }
    expect(outer.closed).toBe(true)
  })

  it('upstream.factory gets each backend’s origin and pool options (timeouts, keep-alive, TLS)', async () => {
    const [a, b] = [await backend('a'), await backend('b')]
    const made: { origin: string; connect: unknown; keepAliveTimeout: unknown; id: string }[] = []
    const { Pool } = await import('undici')
    const lb = balancer([a.url, b.url], roundRobin())
    const d = dispatcherFor(lb, {
      connectTimeoutMs: 1_234,
      upstream: {
        keepAliveTimeoutMs: 2_000,
        tls: (backendOf) => ({ servername: `${backendOf.id}.example` }),
        factory: (origin, options, backendOf) => {
          made.push({
            origin,
            connect: options.connect,
            keepAliveTimeout: options.keepAliveTimeout,
            id: backendOf.id,
          })
          return new Pool(origin, options)
        },
      },
    })
    await get(d, '/')
    await get(d, '/')
    await get(d, '/')
    expect(made.map((m) => m.origin).sort()).toEqual([a.url, b.url].sort())
    for (const m of made)
      expect(m).toMatchObject({
        keepAliveTimeout: 2_000,
        connect: { timeout: 1_234, servername: `${m.id}.example` },
      })
  })

  it('bad options throw FULCRUM_ERR_INVALID_OPTION naming the option path', () => {
    const lb = balancer(['http://127.0.0.1:1'])
    const cases: [unknown, string][] = [
      [{ retries: -1 }, 'options.retries'],
      [{ retries: 1.5 }, 'options.retries'],
      [{ connectTimeoutMs: 0 }, 'options.connectTimeoutMs'],
      [{ headersTimeoutMs: 'soon' }, 'options.headersTimeoutMs'],
      [{ retryOnStatus: 503 }, 'options.retryOnStatus'],
      [{ retryOnStatus: [503, 99] }, 'options.retryOnStatus[1]'],
      [{ upstream: { connections: 0 } }, 'options.upstream.connections'],
      [{ upstream: { tls: 'yes' } }, 'options.upstream.tls'],
      [{ upstream: { factroy: () => null } }, 'options.upstream.factroy'],
      [{ context: 5 }, 'options.context'],
      [{ retrys: 2 }, 'options.retrys'],
      ['fast', 'options'],
    ]
    for (const [options, path] of cases) {
      let thrown: unknown
      try {
        createBalancedDispatcher(lb, options as never)
      } catch (err) {
        thrown = err
      }
      expect(thrown, path).toMatchObject({ code: 'FULCRUM_ERR_INVALID_OPTION', path })
    }
  })
})

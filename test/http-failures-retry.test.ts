/**
 * Failover and retries: dead backends are routed around without client errors; a request is
 * replayed only when that is safe (nothing was sent, or it is idempotent and its body was kept —
 * RFC 9110 §9.2.2), never once the response has started; statuses in `retryOnStatus` are retried
 * after the capped `Retry-After`, other statuses (every 4xx) are passed on; attempts are bounded by
 * `1 + retries`.
 */
import { createBalancer } from '@fulcrum/core'
import { roundRobin } from '@fulcrum/strategies'
import { afterEach, describe, expect, it } from 'vitest'
import {
  answerOk,
  answerStatus,
  drain,
  HttpHarness,
  inOrder,
  readThenReset,
  settledLogs,
  waitFor,
} from './http-failure-helpers.js'

const h = new HttpHarness()
afterEach(() => h.closeAll())

describe('dead backends', () => {
  it('connect refused on one of three: the GET still gets 200, the dead one books a connect failure', async () => {
    const [b1, b2] = await h.backends(2)
    const dead = await h.refusedUrl()
    const lb = createBalancer()
      .backends([dead, b1!.url, b2!.url])
      .strategy(inOrder)
      .retry({ retries: 2 })
      .build()
    const p = await h.proxy(lb)
    const res = await h.get(`${p.url}/x`)
    expect(res.status).toBe(200)
    expect(JSON.parse(res.text)).toMatchObject({ backend: 'b0' })
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({
      status: 200,
      attempts: 2,
      backendId: lb.backends()[1]!.id,
      error: undefined,
    })
    expect(lb.backends()[0]!.counters).toMatchObject({ requests: 1, failures: 1, lastFailure: 'connect' })
    expect(lb.backends()[1]!.counters).toMatchObject({ requests: 1, failures: 0 })
  })

  it('round robin over three with one refusing: 30 GETs, no client error', async () => {
    const [b1, b2] = await h.backends(2)
    const lb = createBalancer()
      .backends([b1!.url, await h.refusedUrl(), b2!.url])
      .strategy(roundRobin())
      .retry({ retries: 2 })
      .build()
    const p = await h.proxy(lb)
    const statuses: number[] = []
    for (let i = 0; i < 30; i++) statuses.push((await h.get(`${p.url}/${i}`)).status)
    expect(statuses).toEqual(Array(30).fill(200))
    expect(b1!.hits + b2!.hits).toBe(30)
    expect(lb.backends()[1]!.counters.failures).toBeGreaterThanOrEqual(1)
    expect(lb.backends()[1]!.counters.successes).toBe(0)
  })

  it('all backends refuse: 502 FULCRUM_ERR_UPSTREAM_CONNECT after exactly 1 + retries attempts', async () => {
    const urls = [await h.refusedUrl(), await h.refusedUrl(), await h.refusedUrl(), await h.refusedUrl()]
    const lb = createBalancer().backends(urls).strategy(inOrder).retry({ retries: 2 }).build()
    const p = await h.proxy(lb)
    const res = await h.get(`${p.url}/x`)
    expect(res.status).toBe(502)
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({ status: 502, attempts: 3 })
    expect(entry!.error).toMatchObject({
      isProxyError: true,
      code: 'FULCRUM_ERR_UPSTREAM_CONNECT',
      status: 502,
      phase: 'connect',
    })
    expect(lb.backends().map((b) => b.counters.failures)).toEqual([1, 1, 1, 0])
  })

  it('300 sequential GETs, one of three backends killed halfway: zero client errors', async () => {
    const bs = await h.backends(3)
    const lb = createBalancer()
      .backends(bs.map((b) => b.url))
      .strategy(roundRobin())
      .retry({ retries: 2 })
      .build()
    const p = await h.listen(lb)
    const agent = h.agent()
    const problems: string[] = []
    let hitsAtKill = 0
    for (let i = 0; i < 300; i++) {
      if (i === 150) {
        hitsAtKill = bs[1]!.hits
        await bs[1]!.kill()
      }
      try {
        const res = await h.request(`${p.url}/seq/${i}`, { dispatcher: agent })
        const text = await res.body.text()
        if (res.statusCode !== 200) problems.push(`#${i}: ${res.statusCode} ${text}`)
      } catch (err) {
        problems.push(`#${i}: ${String(err)}`)
      }
    }
    expect(problems).toEqual([])
    expect(hitsAtKill).toBeGreaterThan(30)
    expect(bs[1]!.hits).toBe(hitsAtKill)
    expect(bs[0]!.hits + bs[2]!.hits).toBe(300 - hitsAtKill)
  })

  it('concurrent GETs in flight on a backend that gets killed are retried elsewhere', async () => {
    const bs = await h.backends(3, (req, res, backend, seen) => {
      setTimeout(() => answerOk(req, res, backend, seen), 150)
    })
    const lb = createBalancer()
      .backends(bs.map((b) => b.url))
      .strategy(roundRobin())
      .retry({ retries: 2 })
      .build()
    const p = await h.proxy(lb)
    const agent = h.agent({ connections: 32 })
    const pending = Array.from({ length: 12 }, (_, i) =>
      h
        .request(`${p.url}/c/${i}`, { dispatcher: agent })
        .then(async (res) => ({ status: res.statusCode, text: await res.body.text() }))
        .catch((err: unknown) => ({ status: 0, text: String(err) })),
    )
    await waitFor(() => bs.reduce((n, b) => n + b.hits, 0) >= 12, 3_000, 'all 12 requests in flight')
    expect(bs[1]!.hits).toBeGreaterThan(0)
    await bs[1]!.kill()
    const results = await Promise.all(pending)
    expect(results.filter((r) => r.status !== 200)).toEqual([])
    for (const r of results) expect(JSON.parse(r.text).backend).not.toBe('b1')
  })
})

describe('what is replayed', () => {
  it('a POST whose body was sent is not replayed: 502, and the next backend never sees it', async () => {
    const a = await h.backend('a', readThenReset)
    const b = await h.backend('b')
    const lb = createBalancer().backends([a.url, b.url]).strategy(inOrder).retry({ retries: 2 }).build()
    const p = await h.proxy(lb)
    const res = await h.request(`${p.url}/orders`, { method: 'POST', body: 'hello' })
    expect(res.statusCode).toBe(502)
    await res.body.text()
    expect(a.requests[0]!.body?.toString()).toBe('hello')
    expect(b.hits).toBe(0)
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({ status: 502, attempts: 1 })
    expect(entry!.error).toMatchObject({ code: 'FULCRUM_ERR_UPSTREAM_RESET', status: 502 })
    expect(lb.backends()[0]!.counters).toMatchObject({ failures: 1, lastFailure: 'reset' })
  })

  it('a POST refused at connect (nothing sent) is retried on another backend with its body', async () => {
    const b = await h.backend('b')
    const lb = createBalancer()
      .backends([await h.refusedUrl(), b.url])
      .strategy(inOrder)
      .retry({ retries: 2 })
      .build()
    const p = await h.proxy(lb)
    const res = await h.request(`${p.url}/orders`, { method: 'POST', body: 'order #1' })
    expect(res.statusCode).toBe(200)
    expect(JSON.parse(await res.body.text())).toMatchObject({ backend: 'b', method: 'POST', bytes: 8 })
    expect(b.requests[0]!.body?.toString()).toBe('order #1')
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({ status: 200, attempts: 2 })
  })

  it('an idempotent PUT with a small body that hits a reset is retried, and the next backend gets it all', async () => {
    const a = await h.backend('a', readThenReset)
    const b = await h.backend('b')
    const lb = createBalancer().backends([a.url, b.url]).strategy(inOrder).retry({ retries: 2 }).build()
    const p = await h.proxy(lb, { maxReplayBodyBytes: 65_536 })
    const body = Buffer.alloc(20_000, 'put-body;')
    const res = await h.request(`${p.url}/doc/1`, { method: 'PUT', body })
    expect(res.statusCode).toBe(200)
    expect(JSON.parse(await res.body.text())).toMatchObject({
      backend: 'b',
      method: 'PUT',
      bytes: body.length,
    })
    expect(a.requests[0]!.body?.equals(body)).toBe(true)
    expect(b.requests[0]!.body?.equals(body)).toBe(true)
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({ status: 200, attempts: 2, backendId: lb.backends()[1]!.id })
    expect(lb.backends()[0]!.counters.failures).toBe(1)
  })

  it('a GET that hits a reset before the response is retried', async () => {
    const a = await h.backend('a', readThenReset)
    const b = await h.backend('b')
    const lb = createBalancer().backends([a.url, b.url]).strategy(inOrder).retry({ retries: 2 }).build()
    const p = await h.proxy(lb)
    const res = await h.get(`${p.url}/item`)
    expect(res.status).toBe(200)
    expect(JSON.parse(res.text)).toMatchObject({ backend: 'b' })
    expect(a.hits).toBe(1)
  })

  it('a PUT whose body is bigger than maxReplayBodyBytes is not replayed after a reset', async () => {
    const a = await h.backend('a', readThenReset)
    const b = await h.backend('b')
    const lb = createBalancer().backends([a.url, b.url]).strategy(inOrder).retry({ retries: 2 }).build()
    const p = await h.proxy(lb, { maxReplayBodyBytes: 1_024 })
    const body = Buffer.alloc(64 * 1024, 'big')
    const res = await h.request(`${p.url}/doc/2`, { method: 'PUT', body })
    expect(res.statusCode).toBe(502)
    await res.body.text()
    expect(a.requests[0]!.body?.length).toBe(body.length)
    expect(b.hits).toBe(0)
  })

  it('once the response has started, a failure is not retried (the client sees a cut body)', async () => {
    const a = await h.backend('a', (req, res) => {
      req.resume()
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('partial', () => setTimeout(() => res.socket?.destroy(), 20))
    })
    const [b, c] = await h.backends(2)
    const lb = createBalancer()
      .backends([a.url, b!.url, c!.url])
      .strategy(inOrder)
      .retry({ retries: 2 })
      .build()
    const p = await h.proxy(lb)
    const res = await h.request(`${p.url}/x`)
    expect(res.statusCode).toBe(200)
    const { error } = await drain(res.body)
    expect(error).toBeDefined()
    expect(b!.hits + c!.hits).toBe(0)
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({ attempts: 1 })
  })
})

describe('retry on status', () => {
  it('a 503 with Retry-After is retried on another backend after the capped Retry-After', async () => {
    const a = await h.backend('a', answerStatus(503, { 'retry-after': '1' }))
    const b = await h.backend('b')
    const lb = createBalancer()
      .backends([a.url, b.url])
      .strategy(inOrder)
      .retry({ retries: 2, retryAfterMaxMs: 50 })
      .build()
    const p = await h.proxy(lb)
    const started = Date.now()
    const res = await h.get(`${p.url}/x`)
    const elapsed = Date.now() - started
    expect(res.status).toBe(200)
    expect(JSON.parse(res.text)).toMatchObject({ backend: 'b' })
    // Retry-After: 1 s, honoured up to retryAfterMaxMs (50 ms).
    expect(elapsed).toBeGreaterThanOrEqual(45)
    expect(elapsed).toBeLessThan(900)
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({ status: 200, attempts: 2, backendId: lb.backends()[1]!.id })
    expect(lb.backends()[0]!.counters).toMatchObject({ failures: 1, lastFailure: 'status' })
  })

  it.each([400, 404, 409, 429, 500])('a %i is passed on as is, never retried', async (status) => {
    const a = await h.backend('a', answerStatus(status))
    const b = await h.backend('b')
    const lb = createBalancer().backends([a.url, b.url]).strategy(inOrder).retry({ retries: 2 }).build()
    const p = await h.proxy(lb)
    const res = await h.get(`${p.url}/x`)
    expect(res.status).toBe(status)
    expect(res.text).toBe(`${status} from a`)
    expect(b.hits).toBe(0)
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({ status, attempts: 1 })
    if (status < 500) expect(lb.backends()[0]!.counters.failures).toBe(0)
  })

  it('every backend answers 503: exactly 1 + retries attempts, and the client gets the last 503', async () => {
    const bs = await h.backends(4, answerStatus(503))
    const lb = createBalancer()
      .backends(bs.map((b) => b.url))
      .strategy(inOrder)
      .retry({ retries: 2 })
      .build()
    const p = await h.proxy(lb)
    const res = await h.get(`${p.url}/x`)
    expect(res.status).toBe(503)
    expect(bs.map((b) => b.hits)).toEqual([1, 1, 1, 0])
    expect(res.text).toBe('503 from b2')
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({ status: 503, attempts: 3 })
  })

  it('the proxy option retries overrides the balancer count', async () => {
    const bs = await h.backends(4, answerStatus(503))
    const lb = createBalancer()
      .backends(bs.map((b) => b.url))
      .strategy(inOrder)
      .retry({ retries: 2 })
      .build()
    const p = await h.proxy(lb, { retries: 1 })
    expect((await h.get(`${p.url}/x`)).status).toBe(503)
    expect(bs.map((b) => b.hits)).toEqual([1, 1, 0, 0])
    expect((await settledLogs(p, 1))[0]).toMatchObject({ attempts: 2 })
  })

  it('a POST answered 503 is not retried (not idempotent)', async () => {
    const a = await h.backend('a', answerStatus(503))
    const b = await h.backend('b')
    const lb = createBalancer().backends([a.url, b.url]).strategy(inOrder).retry({ retries: 2 }).build()
    const p = await h.proxy(lb)
    const res = await h.request(`${p.url}/orders`, { method: 'POST', body: 'x' })
    expect(res.statusCode).toBe(503)
    expect(await res.body.text()).toBe('503 from a')
    expect(b.hits).toBe(0)
  })

  it('a malformed response: 502 FULCRUM_ERR_BAD_RESPONSE, booked as a protocol failure', async () => {
    const raw = await h.rawBackend((socket) => {
      socket.once('data', () => socket.end('this is not HTTP\r\n\r\n'))
    })
    const lb = createBalancer().backends([raw.url]).build()
    const p = await h.proxy(lb, { retries: 0 })
    const res = await h.get(`${p.url}/x`)
    expect(res.status).toBe(502)
    const [entry] = await settledLogs(p, 1)
    expect(entry!.error).toMatchObject({ code: 'FULCRUM_ERR_BAD_RESPONSE', status: 502 })
    expect(lb.backends()[0]!.counters).toMatchObject({ failures: 1, lastFailure: 'protocol' })
  })
})

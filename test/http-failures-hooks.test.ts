/**
 * The logging and error hooks under failure: `onLog` runs exactly once per request however it ends
 * (success, 502, 504, 503, client abort, an answer given by `onRequest`), `onError` gets the
 * `ProxyError` and may replace the error response — but is not called once the response has
 * started — and nothing leaks: after a mix of good and broken exchanges the proxy server has no
 * open connection once the clients are gone, no backend has a request in flight, and no error
 * reached the process.
 */
import { createBalancer } from '@fulcrum/core'
import { ProxyError } from '@fulcrum/http-proxy'
import { afterEach, describe, expect, it } from 'vitest'
import {
  answerOk,
  type BackendHandler,
  connections,
  drain,
  HttpHarness,
  parseHead,
  readThenReset,
  settledLogs,
  waitFor,
  waitForNoConnections,
} from './http-failure-helpers.js'

const h = new HttpHarness()
afterEach(() => h.closeAll())

/** `/hold`: never answers; `/slow`: a chunk every 20 ms; `/cut`: a cut body; `/reset`: no answer, reset; else 200. */
const routes: BackendHandler = (req, res, backend, seen) => {
  switch (req.url) {
    case '/hold':
      req.resume()
      return
    case '/slow': {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('tick\n')
      const timer = setInterval(() => res.write('tick\n'), 20)
      res.on('close', () => clearInterval(timer))
      return
    }
    case '/cut':
      req.resume()
      res.writeHead(200, { 'content-length': '10000' })
      res.write('only a part', () => setTimeout(() => res.socket?.destroy(), 20))
      return
    case '/reset':
      readThenReset(req, res, backend, seen)
      return
    default:
      answerOk(req, res, backend, seen)
  }
}

async function routed(options: Parameters<HttpHarness['proxy']>[1] = {}) {
  const b = await h.backend('app', routes)
  const lb = createBalancer({ maxFails: 0 }).backends([b.url]).build()
  const p = await h.proxy(lb, { retries: 0, headersTimeoutMs: 150, ...options })
  return { b, lb, p }
}

describe('onLog is called exactly once per request', () => {
  it('on success', async () => {
    const { p, lb } = await routed()
    expect((await h.get(`${p.url}/ok`)).status).toBe(200)
    const logs = await settledLogs(p, 1, 150)
    expect(logs).toHaveLength(1)
    expect(logs[0]).toMatchObject({
      method: 'GET',
      url: '/ok',
      status: 200,
      attempts: 1,
      backendId: lb.backends()[0]!.id,
      error: undefined,
    })
  })

  it('on a 502', async () => {
    const { p } = await routed()
    expect((await h.get(`${p.url}/reset`)).status).toBe(502)
    const logs = await settledLogs(p, 1, 150)
    expect(logs).toHaveLength(1)
    expect(logs[0]).toMatchObject({ status: 502, attempts: 1 })
    expect(logs[0]!.error).toMatchObject({ status: 502 })
  })

  it('on a 504', async () => {
    const { p } = await routed()
    expect((await h.get(`${p.url}/hold`)).status).toBe(504)
    const logs = await settledLogs(p, 1, 150)
    expect(logs).toHaveLength(1)
    expect(logs[0]).toMatchObject({ status: 504 })
    expect(logs[0]!.error).toMatchObject({ code: 'FULCRUM_ERR_UPSTREAM_TIMEOUT', status: 504 })
  })

  it('on a 503 (no backend)', async () => {
    const lb = createBalancer().backends([]).build()
    const p = await h.proxy(lb)
    expect((await h.get(`${p.url}/x`)).status).toBe(503)
    const logs = await settledLogs(p, 1, 150)
    expect(logs).toHaveLength(1)
    expect(logs[0]).toMatchObject({ status: 503, attempts: 0 })
  })

  it('when the client aborts mid-response', async () => {
    const { p, lb } = await routed()
    const ac = new AbortController()
    const res = await h.request(`${p.url}/slow`, { signal: ac.signal })
    res.body.on('error', () => {})
    await res.body[Symbol.asyncIterator]().next()
    ac.abort()
    await waitFor(() => lb.backends()[0]!.inflight === 0, 2_000, 'inflight 0')
    const logs = await settledLogs(p, 1, 150)
    expect(logs).toHaveLength(1)
    expect(logs[0]).toMatchObject({ url: '/slow', status: 200, attempts: 1 })
  })

  it('when the client goes away before the response headers', async () => {
    const { p, b, lb } = await routed({ headersTimeoutMs: 8_000 })
    const { socket } = h.raw(p.port, 'GET /hold HTTP/1.1\r\nHost: app.test\r\n\r\n')
    await waitFor(() => b.hits === 1, 2_000, 'the request to reach the backend')
    socket.destroy()
    await waitFor(() => lb.backends()[0]!.inflight === 0, 2_000, 'inflight 0')
    const logs = await settledLogs(p, 1, 150)
    expect(logs).toHaveLength(1)
    expect(logs[0]).toMatchObject({ url: '/hold', attempts: 1 })
  })

  it('when onRequest answers the request itself', async () => {
    const b = await h.backend('app')
    const lb = createBalancer().backends([b.url]).build()
    const p = await h.proxy(lb, {
      onRequest: (ctx) => {
        if (ctx.req.headers.authorization !== undefined) return undefined
        ctx.res.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'text/plain' })
        ctx.res.end('who are you?')
        return true
      },
    })
    const denied = await h.get(`${p.url}/private`)
    expect(denied.status).toBe(401)
    expect(denied.text).toBe('who are you?')
    expect(b.hits).toBe(0)
    const allowed = await h.get(`${p.url}/private`, { authorization: 'Bearer x' })
    expect(allowed.status).toBe(200)
    const logs = await settledLogs(p, 2, 150)
    expect(logs).toHaveLength(2)
    expect(logs[0]).toMatchObject({ status: 401, attempts: 0, error: undefined })
    expect(logs[1]).toMatchObject({ status: 200, attempts: 1 })
  })
})

describe('onError', () => {
  it('may replace the error response', async () => {
    const lb = createBalancer()
      .backends([await h.refusedUrl()])
      .build()
    const seen: unknown[] = []
    const p = await h.proxy(lb, {
      retries: 0,
      onError: (ctx, err) => {
        seen.push(err)
        const body = JSON.stringify({ code: err.code, phase: err.phase, status: err.status })
        ctx.res.writeHead(500, { 'content-type': 'application/json', 'x-custom-error': '1' })
        ctx.res.end(body)
        return true
      },
    })
    const res = await h.get(`${p.url}/x`)
    expect(res.status).toBe(500)
    expect(res.headers['x-custom-error']).toBe('1')
    expect(JSON.parse(res.text)).toEqual({
      code: 'FULCRUM_ERR_UPSTREAM_CONNECT',
      phase: 'connect',
      status: 502,
    })
    expect(seen).toHaveLength(1)
    expect(seen[0]).toBeInstanceOf(ProxyError)
    const logs = await settledLogs(p, 1, 150)
    expect(logs).toHaveLength(1)
    expect(logs[0]).toMatchObject({ status: 500 })
    expect(logs[0]!.error).toMatchObject({ code: 'FULCRUM_ERR_UPSTREAM_CONNECT' })
  })

  it('returning nothing keeps the default plain-text answer with the error status', async () => {
    const { p } = await routed()
    const res = await h.get(`${p.url}/hold`)
    expect(res.status).toBe(504)
    expect(String(res.headers['content-type'])).toMatch(/^text\/plain/)
    expect(p.errors).toHaveLength(1)
    expect(p.errors[0]).toMatchObject({
      isProxyError: true,
      code: 'FULCRUM_ERR_UPSTREAM_TIMEOUT',
      status: 504,
    })
  })

  it('gets the error of every kind: 502 connect, 504 timeout, 503 no backend', async () => {
    const refused = await h.proxy(
      createBalancer()
        .backends([await h.refusedUrl()])
        .build(),
      { retries: 0 },
    )
    const { p: timeout } = await routed()
    const empty = await h.proxy(createBalancer().backends([]).build())
    expect((await h.get(`${refused.url}/x`)).status).toBe(502)
    expect((await h.get(`${timeout.url}/hold`)).status).toBe(504)
    expect((await h.get(`${empty.url}/x`)).status).toBe(503)
    expect(refused.errors.map((e) => [e.code, e.status])).toEqual([['FULCRUM_ERR_UPSTREAM_CONNECT', 502]])
    expect(timeout.errors.map((e) => [e.code, e.status])).toEqual([['FULCRUM_ERR_UPSTREAM_TIMEOUT', 504]])
    expect(empty.errors.map((e) => [e.code, e.status])).toEqual([['FULCRUM_ERR_NO_BACKEND', 503]])
  })

  it('is not called once the response has started; onLog still is, once', async () => {
    const { p } = await routed({
      onError: (ctx) => {
        ctx.res.writeHead(500)
        ctx.res.end('must not be used')
        return true
      },
    })
    const res = await h.request(`${p.url}/cut`)
    expect(res.statusCode).toBe(200)
    expect((await drain(res.body)).error).toBeDefined()
    const logs = await settledLogs(p, 1, 150)
    expect(logs).toHaveLength(1)
    expect(logs[0]!.error).toBeDefined()
    expect(p.errors).toHaveLength(0)
  })
})

describe('no leaks', () => {
  it('after good and broken exchanges on keep-alive clients, closing the clients leaves no connection', async () => {
    const { p, lb } = await routed()
    const agent = h.agent({ connections: 4 })
    const statuses: number[] = []
    for (let round = 0; round < 3; round++) {
      for (const path of ['/ok', '/reset', '/hold', '/ok']) {
        const res = await h.request(`${p.url}${path}`, { dispatcher: agent })
        statuses.push(res.statusCode)
        await res.body.text()
      }
      const cut = await h.request(`${p.url}/cut`, { dispatcher: agent })
      statuses.push(cut.statusCode)
      await drain(cut.body)
      const ac = new AbortController()
      const slow = await h.request(`${p.url}/slow`, { dispatcher: agent, signal: ac.signal })
      slow.body.on('error', () => {})
      ac.abort()
    }
    expect(statuses).toEqual(Array(3).fill([200, 502, 504, 200, 200]).flat())
    // A last request on a raw keep-alive connection, left open by the client…
    const { socket } = h.raw(p.port, 'GET /ok HTTP/1.1\r\nHost: app.test\r\n\r\n')
    const head = await new Promise<Buffer>((resolve) => {
      let data = Buffer.alloc(0)
      socket.on('data', (c: Buffer) => {
        data = Buffer.concat([data, c])
        const { status, headers, body } = parseHead(data)
        if (status > 0 && body.length >= Number(headers['content-length']?.[0] ?? 0)) resolve(data)
      })
    })
    expect(parseHead(head).status).toBe(200)
    await settledLogs(p, 19, 150)
    expect(p.logs).toHaveLength(19)
    // …keeps its connection open on the proxy (a keep-alive connection after a complete response)…
    expect(await connections(p.server)).toBeGreaterThan(0)
    // …and closing the clients closes everything.
    await h.closeClients()
    await waitForNoConnections(p.server, 2_000)
    await waitFor(() => lb.backends()[0]!.inflight === 0, 2_000, 'inflight 0')
  })
})

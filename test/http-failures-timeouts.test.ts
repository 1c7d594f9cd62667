/**
 * Upstream timeouts: a connect that never completes, a backend that never answers, and a body that
 * stalls. Before the response has started the client gets 504 (RFC 9110 §15.6.5, Gateway
 * Timeout); after, it can only see a cut body. Timers are idle timers: a slow but steady body and a
 * slow first byte within `headersTimeoutMs` are not cut.
 */
import { createBalancer } from '@fulcrum/core'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type BackendHandler,
  decodeChunked,
  drain,
  HttpHarness,
  inOrder,
  settledLogs,
  sleep,
  waitFor,
} from './http-failure-helpers.js'

const h = new HttpHarness()
afterEach(() => h.closeAll())

interface Ending {
  closed: boolean
  finished: boolean
}

/** A handler that records how its response ended, then runs `then`. */
function recording(endings: Ending[], then: BackendHandler): BackendHandler {
  return (req, res, backend, seen) => {
    const ending: Ending = { closed: false, finished: false }
    endings.push(ending)
    res.on('close', () => {
      ending.closed = true
      ending.finished = res.writableFinished
    })
    then(req, res, backend, seen)
  }
}

/** Headers and a first chunk, then silence (until the connection is closed). */
const stallAfterFirstChunk: BackendHandler = (req, res) => {
  req.resume()
  res.writeHead(200, { 'content-type': 'text/plain' })
  res.write('start;')
}

describe('connect timeout', () => {
  it('a backend that never completes the handshake: 504 after connectTimeoutMs, phase connect', async () => {
    const lb = createBalancer()
      .backends([await h.hangingUrl()])
      .build()
    const p = await h.proxy(lb, { connectTimeoutMs: 200, retries: 0 })
    const started = Date.now()
    const res = await h.get(`${p.url}/x`)
    const elapsed = Date.now() - started
    expect(res.status).toBe(504)
    expect(elapsed).toBeGreaterThanOrEqual(180)
    expect(elapsed).toBeLessThan(2_000)
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({ status: 504, attempts: 1 })
    expect(entry!.error).toMatchObject({
      isProxyError: true,
      code: 'FULCRUM_ERR_UPSTREAM_TIMEOUT',
      status: 504,
      phase: 'connect',
    })
    // A connect timeout is a connect failure of the backend (core's FailureKind 'connect').
    expect(lb.backends()[0]!.counters).toMatchObject({ requests: 1, failures: 1, lastFailure: 'connect' })
  })

  it('fails over to another backend (nothing was sent, so even a POST may go elsewhere)', async () => {
    const ok = await h.backend('ok')
    const lb = createBalancer()
      .backends([await h.hangingUrl(), ok.url])
      .strategy(inOrder)
      .build()
    const p = await h.proxy(lb, { connectTimeoutMs: 150 })
    const started = Date.now()
    const res = await h.request(`${p.url}/post`, { method: 'POST', body: 'payload' })
    const text = await res.body.text()
    expect(Date.now() - started).toBeGreaterThanOrEqual(130)
    expect(res.statusCode).toBe(200)
    expect(JSON.parse(text)).toMatchObject({ backend: 'ok', bytes: 7 })
    expect(ok.requests[0]!.body?.toString()).toBe('payload')
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({ status: 200, attempts: 2, backendId: lb.backends()[1]!.id })
    expect(lb.backends()[0]!.counters.failures).toBe(1)
  })
})

describe('headers timeout', () => {
  it('a backend that never answers: 504 after headersTimeoutMs, and the upstream request is cancelled', async () => {
    const endings: Ending[] = []
    const b = await h.backend(
      'silent',
      recording(endings, (req) => req.resume()),
    )
    const lb = createBalancer().backends([b.url]).build()
    const p = await h.proxy(lb, { headersTimeoutMs: 200, retries: 0 })
    const started = Date.now()
    const res = await h.get(`${p.url}/x`)
    const elapsed = Date.now() - started
    expect(res.status).toBe(504)
    expect(elapsed).toBeGreaterThanOrEqual(180)
    expect(elapsed).toBeLessThan(2_000)
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({ status: 504, attempts: 1 })
    expect(entry!.error).toMatchObject({
      code: 'FULCRUM_ERR_UPSTREAM_TIMEOUT',
      status: 504,
      phase: 'response-headers',
    })
    await waitFor(() => endings[0]?.closed === true, 2_000, 'the upstream request to be cancelled')
    expect(endings[0]!.finished).toBe(false)
    expect(lb.backends()[0]!.counters).toMatchObject({ failures: 1, lastFailure: 'timeout' })
  })

  it('a slow first byte within headersTimeoutMs is fine, and the body timer does not run before it', async () => {
    const b = await h.backend('slow-start', (req, res) => {
      req.resume()
      setTimeout(() => res.end('late but fine'), 400)
    })
    const lb = createBalancer().backends([b.url]).build()
    const p = await h.proxy(lb, { headersTimeoutMs: 3_000, bodyTimeoutMs: 150, retries: 0 })
    const res = await h.get(`${p.url}/x`)
    expect(res.status).toBe(200)
    expect(res.text).toBe('late but fine')
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({ status: 200, error: undefined })
  })
})

describe('body idle timeout', () => {
  it('a body that stalls after the headers: the client sees a cut body, not a clean end', async () => {
    const endings: Ending[] = []
    const b = await h.backend('stall', recording(endings, stallAfterFirstChunk))
    const lb = createBalancer().backends([b.url]).build()
    const p = await h.proxy(lb, { bodyTimeoutMs: 200 })
    const res = await h.request(`${p.url}/x`)
    expect(res.statusCode).toBe(200)
    const headersAt = Date.now()
    const { bytes, error } = await drain(res.body)
    const elapsed = Date.now() - headersAt
    expect(error, 'a stalled body must end in an error').toBeDefined()
    expect(bytes).toBe('start;'.length)
    expect(elapsed).toBeGreaterThanOrEqual(150)
    expect(elapsed).toBeLessThan(3_000)
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({ status: 200, attempts: 1 })
    expect(entry!.error).toMatchObject({ code: 'FULCRUM_ERR_UPSTREAM_TIMEOUT', phase: 'response-body' })
    await waitFor(() => endings[0]?.closed === true, 2_000, 'the upstream response to be dropped')
    expect(endings[0]!.finished).toBe(false)
    expect(lb.backends()[0]!.counters).toMatchObject({ failures: 1, lastFailure: 'timeout' })
  })

  it('a stalled chunked body: a raw keep-alive client gets no last chunk and a closed connection', async () => {
    const b = await h.backend('stall', stallAfterFirstChunk)
    const lb = createBalancer().backends([b.url]).build()
    const p = await h.proxy(lb, { bodyTimeoutMs: 200 })
    const { result } = h.raw(p.port, 'GET /x HTTP/1.1\r\nHost: app.test\r\n\r\n', 3_000)
    const r = await result
    expect(r.status).toBe(200)
    expect(r.closed, 'the proxy must close the connection of a cut response').toBe(true)
    const chunked = r.headers['transfer-encoding']?.some((v) => /chunked/i.test(v)) ?? false
    expect(chunked).toBe(true)
    expect(decodeChunked(r.body)).toMatchObject({ complete: false })
    expect(decodeChunked(r.body).data.toString()).toBe('start;')
  })

  it('a slow but steady body is not cut: the timer is between chunks, not for the whole body', async () => {
    const b = await h.backend('steady', (req, res) => {
      req.resume()
      res.writeHead(200, { 'content-type': 'text/plain' })
      let n = 0
      const timer = setInterval(() => {
        res.write(`${n};`)
        if (++n === 8) {
          clearInterval(timer)
          res.end()
        }
      }, 100)
      res.on('close', () => clearInterval(timer))
    })
    const lb = createBalancer().backends([b.url]).build()
    const p = await h.proxy(lb, { bodyTimeoutMs: 400 })
    const res = await h.get(`${p.url}/x`)
    expect(res.status).toBe(200)
    expect(res.text).toBe('0;1;2;3;4;5;6;7;')
    const [entry] = await settledLogs(p, 1)
    expect(entry!.error).toBeUndefined()
  })

  it('timeouts do not poison the proxy: it keeps serving', async () => {
    let mode: 'silent' | 'ok' = 'silent'
    const b = await h.backend('flaky', (req, res) => {
      req.resume()
      if (mode === 'ok') res.end('fine')
    })
    const lb = createBalancer({ maxFails: 0 }).backends([b.url]).build()
    const p = await h.proxy(lb, { headersTimeoutMs: 150, retries: 0 })
    expect((await h.get(`${p.url}/1`)).status).toBe(504)
    mode = 'ok'
    await sleep(10)
    const res = await h.get(`${p.url}/2`)
    expect(res.status).toBe(200)
    expect(res.text).toBe('fine')
  })
})

/**
 * Broken exchanges: a client that goes away cancels the upstream request without blaming the
 * backend, and an upstream that breaks in the middle of a body is never turned into a clean end
 * for the client (RFC 9112 §8: an incomplete message must be seen as incomplete).
 */
import http from 'node:http'
import { createBalancer } from '@fulcrum/core'
import { afterEach, describe, expect, it } from 'vitest'
import {
  answerOk,
  type BackendHandler,
  decodeChunked,
  drain,
  HttpHarness,
  inOrder,
  readThenReset,
  settledLogs,
  waitFor,
} from './http-failure-helpers.js'

const h = new HttpHarness()
afterEach(() => h.closeAll())

/** How a backend's response ended. */
interface Ending {
  closed: boolean
  finished: boolean
  requestComplete: boolean
}

/**
 * `/slow`: 200, then a chunk every 20 ms for 10 s; `/hold`: never answers; `/upload`: reads the body
 * and answers when it ends; anything else: {@link answerOk}. Records how each response ended.
 */
function slowBackend(endings: Ending[]): BackendHandler {
  return (req, res, backend, seen) => {
    const ending: Ending = { closed: false, finished: false, requestComplete: false }
    endings.push(ending)
    res.on('close', () => {
      ending.closed = true
      ending.finished = res.writableFinished
      ending.requestComplete = req.complete
    })
    if (req.url === '/slow') {
      res.writeHead(200, { 'content-type': 'text/plain' })
      let n = 0
      const timer = setInterval(() => {
        if (++n >= 500) {
          clearInterval(timer)
          res.end('end')
        } else res.write(`chunk ${n}\n`)
      }, 20)
      res.write('chunk 0\n')
      res.on('close', () => clearInterval(timer))
    } else if (req.url === '/hold') {
      req.resume()
    } else if (req.url === '/upload') {
      req.resume()
      req.on('end', () => res.end('got it'))
    } else answerOk(req, res, backend, seen)
  }
}

/** Writes headers and `partial` bytes of body, then destroys the connection once they are flushed. */
function cutAfter(partial: number, headers: Record<string, string>): BackendHandler {
  return (req, res) => {
    req.resume()
    res.writeHead(200, headers)
    res.write(Buffer.alloc(partial, 'p'), () => setTimeout(() => res.socket?.destroy(), 20))
  }
}

describe('client aborts', () => {
  it('mid-response (undici abort): the upstream request is cancelled, not counted as a failure', async () => {
    const endings: Ending[] = []
    const b = await h.backend('slow', slowBackend(endings))
    const lb = createBalancer().backends([b.url]).build()
    const p = await h.proxy(lb)

    const ac = new AbortController()
    const res = await h.request(`${p.url}/slow`, { signal: ac.signal })
    expect(res.statusCode).toBe(200)
    const first = await res.body[Symbol.asyncIterator]().next()
    expect(String(first.value)).toContain('chunk 0')
    res.body.on('error', () => {})
    ac.abort()
    await waitFor(() => endings[0]?.closed === true, 2_000, 'the backend response to close')
    expect(endings[0]!.finished).toBe(false)

    const backend = lb.backends()[0]!
    await waitFor(() => backend.inflight === 0, 2_000, 'inflight 0')
    expect(backend.counters).toMatchObject({ requests: 1, failures: 0, cancelled: 1 })
    const logs = await settledLogs(p, 1)
    expect(logs).toHaveLength(1)

    // The proxy keeps serving.
    const again = await h.get(`${p.url}/ok`)
    expect(again.status).toBe(200)
    expect(JSON.parse(again.text)).toMatchObject({ backend: 'slow', url: '/ok' })
  })

  it('mid-response (node:http req.destroy()): the upstream request is cancelled', async () => {
    const endings: Ending[] = []
    const b = await h.backend('slow', slowBackend(endings))
    const lb = createBalancer().backends([b.url]).build()
    const p = await h.proxy(lb)

    const agent = h.httpAgent()
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${p.url}/slow`, { agent }, (res) => {
        res.on('error', () => {})
        res.once('data', () => {
          req.destroy()
          resolve()
        })
      })
      req.on('error', (err) => {
        if (!req.destroyed) reject(err)
      })
    })
    await waitFor(() => endings[0]?.closed === true, 2_000, 'the backend response to close')
    expect(endings[0]!.finished).toBe(false)
    const backend = lb.backends()[0]!
    await waitFor(() => backend.inflight === 0, 2_000, 'inflight 0')
    expect(backend.counters.failures).toBe(0)
    expect(await settledLogs(p, 1)).toHaveLength(1)
    expect((await h.get(`${p.url}/ok`)).status).toBe(200)
  })

  it('while waiting for the response headers: the upstream request is cancelled', async () => {
    const endings: Ending[] = []
    const b = await h.backend('hold', slowBackend(endings))
    const lb = createBalancer().backends([b.url]).build()
    const p = await h.proxy(lb, { headersTimeoutMs: 8_000 })

    const { socket } = h.raw(p.port, 'GET /hold HTTP/1.1\r\nHost: app.test\r\n\r\n')
    await waitFor(() => b.hits === 1, 2_000, 'the request to reach the backend')
    socket.destroy()
    await waitFor(() => endings[0]?.closed === true, 2_000, 'the backend response to close')
    expect(endings[0]!.finished).toBe(false)
    const backend = lb.backends()[0]!
    await waitFor(() => backend.inflight === 0, 2_000, 'inflight 0')
    expect(backend.counters.failures).toBe(0)
    expect(await settledLogs(p, 1)).toHaveLength(1)
    expect((await h.get(`${p.url}/ok`)).status).toBe(200)
  })

  it('mid-upload: the upstream request body is cut too, and the backend is not blamed', async () => {
    const endings: Ending[] = []
    let backendBytes = 0
    const handler = slowBackend(endings)
    const b = await h.backend('sink', (req, res, backend, seen) => {
      req.on('data', (c: Buffer) => {
        backendBytes += c.length
      })
      handler(req, res, backend, seen)
    })
    const lb = createBalancer().backends([b.url]).build()
    const p = await h.proxy(lb)

    const { socket } = h.raw(
      p.port,
      'POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n',
    )
    // More than the default replay buffer (64 KiB), so the proxy has to stream it.
    socket.write(Buffer.alloc(128 * 1024, 'u'))
    await waitFor(() => backendBytes > 0, 3_000, 'body bytes to reach the backend')
    socket.destroy()
    await waitFor(() => endings[0]?.closed === true, 2_000, 'the backend request to close')
    expect(endings[0]!.requestComplete).toBe(false)
    expect(backendBytes).toBeLessThan(1_000_000)
    const backend = lb.backends()[0]!
    await waitFor(() => backend.inflight === 0, 2_000, 'inflight 0')
    expect(backend.counters.failures).toBe(0)
    expect(await settledLogs(p, 1)).toHaveLength(1)
    expect((await h.get(`${p.url}/ok`)).status).toBe(200)
  })
})

describe('upstream resets mid-body', () => {
  it('Content-Length body cut: the undici client gets a body error, and no other backend is tried', async () => {
    const cut = await h.backend('cut', cutAfter(1_000, { 'content-length': '100000' }))
    const others = await h.backends(2)
    const lb = createBalancer()
      .backends([cut.url, ...others.map((o) => o.url)])
      .strategy(inOrder)
      .retry({ retries: 2 })
      .build()
    const p = await h.proxy(lb)

    const res = await h.request(`${p.url}/file`)
    expect(res.statusCode).toBe(200)
    const { bytes, error } = await drain(res.body)
    expect(error, 'a truncated body must not end cleanly').toBeDefined()
    expect(bytes).toBeLessThan(100_000)
    // Response bytes were sent already: no retry.
    expect(others.map((o) => o.hits)).toEqual([0, 0])
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({ status: 200, attempts: 1, backendId: lb.backends()[0]!.id })
    expect(entry!.error).toMatchObject({ code: 'FULCRUM_ERR_UPSTREAM_RESET', phase: 'response-body' })
    expect(lb.backends()[0]!.counters).toMatchObject({ requests: 1, failures: 1, lastFailure: 'reset' })
  })

  it('chunked body cut: a raw client never gets the last chunk, and the proxy closes the connection', async () => {
    const cut = await h.backend('cut', cutAfter(3_000, { 'content-type': 'text/plain' }))
    const lb = createBalancer().backends([cut.url]).build()
    const p = await h.proxy(lb)

    // A keep-alive request: only closing the connection can tell the client the body was cut.
    const { result } = h.raw(p.port, 'GET /stream HTTP/1.1\r\nHost: app.test\r\n\r\n', 3_000)
    const r = await result
    expect(r.status).toBe(200)
    expect(r.closed, 'the proxy must close a connection whose response was cut').toBe(true)
    const length = r.headers['content-length']?.[0]
    const chunked = r.headers['transfer-encoding']?.some((v) => /chunked/i.test(v)) ?? false
    expect(length !== undefined || chunked, 'the response must be framed (RFC 9112 §6.3)').toBe(true)
    if (chunked) {
      const decoded = decodeChunked(r.body)
      expect(decoded.complete).toBe(false)
      expect(decoded.data.length).toBeLessThanOrEqual(3_000)
    } else {
      expect(r.body.length).toBeLessThan(Number(length))
    }
  })

  it('Content-Length body cut: a node:http client sees an incomplete message', async () => {
    const cut = await h.backend('cut', cutAfter(2_000, { 'content-length': '50000' }))
    const lb = createBalancer().backends([cut.url]).build()
    const p = await h.proxy(lb)

    const agent = h.httpAgent()
    const outcome = await new Promise<{ status: number; bytes: number; complete: boolean }>((resolve) => {
      const req = http.get(`${p.url}/file`, { agent }, (res) => {
        let bytes = 0
        res.on('data', (c: Buffer) => {
          bytes += c.length
        })
        res.on('error', () => {})
        res.on('close', () => resolve({ status: res.statusCode ?? 0, bytes, complete: res.complete }))
      })
      req.on('error', () => resolve({ status: 0, bytes: 0, complete: false }))
    })
    expect(outcome.status).toBe(200)
    expect(outcome.complete).toBe(false)
    expect(outcome.bytes).toBeLessThan(50_000)
  })

  it('a reset before the response headers: 502 FULCRUM_ERR_UPSTREAM_RESET, booked as a reset', async () => {
    const b = await h.backend('reset', readThenReset)
    const lb = createBalancer().backends([b.url]).build()
    const p = await h.proxy(lb, { retries: 0 })

    const res = await h.get(`${p.url}/x`)
    expect(res.status).toBe(502)
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({ status: 502, attempts: 1 })
    expect(entry!.error).toMatchObject({
      isProxyError: true,
      code: 'FULCRUM_ERR_UPSTREAM_RESET',
      status: 502,
      phase: 'response-headers',
    })
    expect(lb.backends()[0]!.counters).toMatchObject({ failures: 1, lastFailure: 'reset' })
  })
})

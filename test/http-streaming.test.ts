/**
 * Streaming through the HTTP proxy: big downloads and uploads go through with backpressure (a
 * stalled reader stops the writer at the far end, the proxy's memory stays bounded), and bodies are
 * relayed as they come instead of being buffered to the end.
 *
 * The size of the big transfers is `FULCRUM_BIG_BYTES` (bytes, or `256m`, `1g` …; 1 GiB by
 * default, 256 MiB when `CI` is set), e.g. `FULCRUM_BIG_BYTES=1g npx vitest run test/http-streaming`.
 * Everything (backend, proxy, client) runs in this test process, so the RSS bound covers all three:
 * each holds at most a few stream buffers when backpressure works, while a proxy that ignored it
 * would buffer hundreds of MB during the reader's pause. The pause also gives a sharper check: how
 * far the writer got ahead of the paused reader (socket buffers of two loopback hops, ~10 MiB).
 */
import { PassThrough } from 'node:stream'
import { createBalancer } from '@fulcrum/core'
import { afterEach, describe, expect, it } from 'vitest'
import {
  bigBytes,
  CHUNK,
  drain,
  generatedBody,
  HttpHarness,
  MiB,
  rssSampler,
  sleep,
  waitFor,
  writeGenerated,
} from './http-failure-helpers.js'

const h = new HttpHarness()
afterEach(() => h.closeAll())

const BIG = bigBytes()
/** RSS growth allowed over the baseline taken just before a transfer (all three parties included). */
const RSS_LIMIT = 200 * MiB
/** Bytes the writer may get ahead of a paused reader: socket buffers of two loopback hops, and then some. */
const PAUSED_GAP_LIMIT = 64 * MiB
/** How long the reader pauses in the middle of a transfer. */
const PAUSE_MS = 500

const mb = (n: number): string => `${(n / MiB).toFixed(1)} MiB`

describe('http proxy streaming', () => {
  it(`downloads ${mb(BIG)} chunked with backpressure and bounded memory`, { timeout: 30_000 }, async () => {
    let written = 0
    let backendFinished = false
    const b = await h.backend('big', (req, res) => {
      if (req.url === '/warm') {
        res.end('warm')
        return
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      void writeGenerated(res, BIG, (n) => {
        written = n
      }).then(() => {
        res.end()
        backendFinished = true
      })
    })
    const lb = createBalancer().backends([b.url]).build()
    const p = await h.proxy(lb)
    expect((await h.get(`${p.url}/warm`)).text).toBe('warm')

    const rss = rssSampler()
    const res = await h.request(`${p.url}/big`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-length']).toBeUndefined()
    let paused = false
    let gap = 0
    const { bytes, error } = await drain(res.body, async (received) => {
      if (received % (16 * MiB) < CHUNK.length) rss.sample()
      if (!paused && received >= BIG / 4) {
        paused = true
        await sleep(PAUSE_MS)
        // While this reader did not read, the backend may only have filled the buffers in between.
        gap = written - received
      }
    })
    const { baseline, peak } = rss.stop()
    expect(error).toBeUndefined()
    expect(bytes).toBe(BIG)
    expect(paused).toBe(true)
    expect(gap, `backend got ${mb(gap)} ahead of a paused reader`).toBeLessThan(PAUSED_GAP_LIMIT)
    expect(peak - baseline, `RSS grew from ${mb(baseline)} to ${mb(peak)}`).toBeLessThan(RSS_LIMIT)
    await waitFor(() => backendFinished, 2_000, 'the backend to finish')
    const [backend] = lb.backends()
    await waitFor(() => backend!.inflight === 0, 2_000, 'inflight 0')
    expect(backend!.counters).toMatchObject({ requests: 2, failures: 0 })
  })

  it(`uploads ${mb(BIG)} chunked with backpressure and bounded memory`, { timeout: 30_000 }, async () => {
    let received = 0
    let sent = 0
    let gap = -1
    const b = await h.backend('sink', (req, res) => {
      let paused = false
      req.on('data', (c: Buffer) => {
        received += c.length
        if (!paused && received >= BIG / 4) {
          paused = true
          req.pause()
          setTimeout(() => {
            // While the backend did not read, the client may only have filled the buffers in between.
            gap = sent - received
            req.resume()
          }, PAUSE_MS)
        }
      })
      req.on('end', () => res.end(JSON.stringify({ bytes: received })))
    })
    const lb = createBalancer().backends([b.url]).build()
    const p = await h.proxy(lb)
    expect((await h.request(`${p.url}/warm`, { method: 'POST', body: 'x' })).statusCode).toBe(200)
    received = 0

    const rss = rssSampler()
    const res = await h.request(`${p.url}/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: generatedBody(BIG, (n) => {
        sent = n
        if (n % (16 * MiB) < CHUNK.length) rss.sample()
      }),
    })
    const text = await res.body.text()
    const { baseline, peak } = rss.stop()
    expect(res.statusCode).toBe(200)
    expect(JSON.parse(text)).toEqual({ bytes: BIG })
    expect(sent).toBe(BIG)
    expect(gap, 'the backend paused once').toBeGreaterThanOrEqual(0)
    expect(gap, `client got ${mb(gap)} ahead of a paused backend`).toBeLessThan(PAUSED_GAP_LIMIT)
    expect(peak - baseline, `RSS grew from ${mb(baseline)} to ${mb(peak)}`).toBeLessThan(RSS_LIMIT)
  })

  it('relays a Content-Length body of 64 MiB exactly, both ways', { timeout: 30_000 }, async () => {
    const size = Math.min(BIG, 64 * MiB)
    const b = await h.backend('cl', (req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-length': String(size) })
        void writeGenerated(res, size).then(() => res.end())
        return
      }
      let n = 0
      req.on('data', (c: Buffer) => {
        n += c.length
      })
      req.on('end', () => res.end(JSON.stringify({ bytes: n, length: req.headers['content-length'] })))
    })
    const lb = createBalancer().backends([b.url]).build()
    const p = await h.proxy(lb)

    const down = await h.request(`${p.url}/down`)
    expect(down.statusCode).toBe(200)
    expect(down.headers['content-length']).toBe(String(size))
    expect(await drain(down.body)).toEqual({ bytes: size, error: undefined })

    const up = await h.request(`${p.url}/up`, {
      method: 'PUT',
      headers: { 'content-length': String(size) },
      body: generatedBody(size, () => {}),
    })
    expect(up.statusCode).toBe(200)
    expect(JSON.parse(await up.body.text())).toEqual({ bytes: size, length: String(size) })
  })

  it('streams the response: the client gets the first chunk before the backend ends', async () => {
    let clientGotFirst!: () => void
    const gotFirst = new Promise<void>((resolve) => {
      clientGotFirst = resolve
    })
    let signalledBeforeEnd = false
    const b = await h.backend('trickle', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('first;')
      // End anyway after 3 s so that a buffering proxy fails the assertion instead of hanging.
      void Promise.race([gotFirst.then(() => true), sleep(3_000).then(() => false)]).then((signalled) => {
        signalledBeforeEnd = signalled
        res.end('second')
      })
    })
    const lb = createBalancer().backends([b.url]).build()
    const p = await h.proxy(lb)
    const res = await h.request(`${p.url}/trickle`)
    let text = ''
    for await (const chunk of res.body) {
      text += chunk.toString()
      if (text.startsWith('first;')) clientGotFirst()
    }
    expect(text).toBe('first;second')
    expect(signalledBeforeEnd).toBe(true)
  })

  it('streams the request body: the backend gets the first part before the client ends it', async () => {
    let backendBytes = 0
    const b = await h.backend('reader', (req, res) => {
      req.on('data', (c: Buffer) => {
        backendBytes += c.length
      })
      req.on('end', () => res.end(JSON.stringify({ bytes: backendBytes })))
    })
    const lb = createBalancer().backends([b.url]).build()
    // A body bigger than the replay buffer cannot be held back for a retry: it must flow.
    const p = await h.proxy(lb, { maxReplayBodyBytes: 1_024 })
    const body = new PassThrough()
    const part1 = Buffer.alloc(8 * 1024, 'a')
    const pending = h.request(`${p.url}/stream-up`, { method: 'POST', body })
    body.write(part1)
    let flowed = true
    try {
      await waitFor(() => backendBytes >= part1.length, 3_000, 'the first part to reach the backend')
    } catch {
      flowed = false
    }
    body.end(Buffer.alloc(1_000, 'b'))
    const res = await pending
    expect(JSON.parse(await res.body.text())).toEqual({ bytes: part1.length + 1_000 })
    expect(flowed).toBe(true)
  })
})

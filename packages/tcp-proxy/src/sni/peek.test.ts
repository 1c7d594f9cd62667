import * as net from 'node:net'
import * as tls from 'node:tls'
import { InvalidOptionError } from '@fulcrum/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { SniError } from './errors.js'
import { peekServerName } from './peek.js'

const cleanups: (() => void)[] = []
afterEach(() => {
  vi.restoreAllMocks()
  for (const c of cleanups.splice(0).reverse()) c()
})

const EVENTS = ['data', 'end', 'close', 'error', 'readable'] as const
const listenerCounts = (s: net.Socket): number[] => EVENTS.map((e) => s.listenerCount(e))
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A loopback server; `next()` resolves with the next accepted socket. */
async function startServer(): Promise<{ port: number; next: () => Promise<net.Socket> }> {
  const accepted: net.Socket[] = []
  const waiting: ((s: net.Socket) => void)[] = []
  const server = net.createServer((socket) => {
    socket.on('error', () => {}) // the proxy's own listener; peekServerName adds and removes its own
    cleanups.push(() => socket.destroy())
    const w = waiting.shift()
    if (w) w(socket)
    else accepted.push(socket)
  })
  cleanups.push(() => server.close())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  return {
    port,
    next: () => {
      const s = accepted.shift()
      return s ? Promise.resolve(s) : new Promise((resolve) => waiting.push(resolve))
    },
  }
}

function rawClient(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port }, () => resolve(c))
    c.setNoDelay(true)
    c.on('error', reject)
    cleanups.push(() => c.destroy())
  })
}

function tlsClient(port: number, options: tls.ConnectionOptions = {}): tls.TLSSocket {
  const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options })
  c.on('error', () => {})
  cleanups.push(() => c.destroy())
  return c
}

/** Collects everything readable from `socket` until it ends. */
function readAll(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    socket.on('data', (d: Buffer) => parts.push(d))
    socket.once('end', () => resolve(Buffer.concat(parts)))
    socket.once('error', reject)
    socket.resume()
  })
}

/** Reads until `n` bytes have arrived (for sockets whose peer does not end). */
function readBytes(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0)
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d])
      if (buf.length >= n) {
        socket.off('data', onData)
        socket.pause()
        resolve(buf)
      }
    }
    socket.on('data', onData)
    socket.resume()
  })
}

/** Captures a real ClientHello from a node:tls client. */
async function captureClientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const { port, next } = await startServer()
  tlsClient(port, options)
  const socket = await next()
  const head = await readBytes(socket, 5)
  const total = 5 + head.readUInt16BE(3)
  const rest = head.length >= total ? Buffer.alloc(0) : await readBytes(socket, total - head.length)
  socket.destroy()
  return Buffer.concat([head, rest]).subarray(0, total)
}

describe('peekServerName', () => {
  it('returns the name of a real node:tls client and leaves its ClientHello on the socket', async () => {
    const { port, next } = await startServer()
    tlsClient(port, { servername: 'a.example.test', ALPNProtocols: ['h2'] })
    const socket = await next()
    const before = listenerCounts(socket)
    await expect(peekServerName(socket, 2_000)).resolves.toBe('a.example.test')
    expect(listenerCounts(socket)).toEqual(before)
    expect(socket.isPaused()).toBe(true)
    expect(socket.readableLength).toBeGreaterThan(0)
    const head = await readBytes(socket, 5)
    expect(head[0]).toBe(22)
    const record =
      head.length >= 5 + head.readUInt16BE(3)
        ? head
        : Buffer.concat([head, await readBytes(socket, 5 + head.readUInt16BE(3) - head.length)])
    expect(record.length).toBeGreaterThanOrEqual(5 + record.readUInt16BE(3))
    // What was put back is a whole ClientHello naming the same server: a second peek agrees.
    socket.unshift(record)
    await expect(peekServerName(socket, 2_000)).resolves.toBe('a.example.test')
  })

  it('resolves undefined for a ClientHello without SNI', async () => {
    const { port, next } = await startServer()
    tlsClient(port, {})
    await expect(peekServerName(await next(), 2_000)).resolves.toBeUndefined()
  })

  it('puts back exactly the bytes the client sent, however they were split, and nothing is lost after', async () => {
    const hello = await captureClientHello({ servername: 'split.example.test', minVersion: 'TLSv1.3' })
    const after = Buffer.from('\x17\x03\x03\x00\x05early-and-then-some-more-bytes')
    const sent = Buffer.concat([hello, after])
    const { port, next } = await startServer()
    const client = await rawClient(port)
    const socket = await next()
    const before = listenerCounts(socket)
    const peeked = peekServerName(socket, 5_000)
    // Split into pieces: a partial record header, a partial body, the rest of the hello plus more.
    for (const [from, to] of [
      [0, 3],
      [3, 40],
      [40, hello.length - 1],
      [hello.length - 1, hello.length + 4],
    ] as const) {
      client.write(sent.subarray(from, to))
      await sleep(15)
    }
    await expect(peeked).resolves.toBe('split.example.test')
    expect(listenerCounts(socket)).toEqual(before)
    expect(socket.isPaused()).toBe(true)
    client.end(sent.subarray(hello.length + 4))
    const received = await readAll(socket)
    expect(received.equals(sent)).toBe(true)
  })

  it('clears its timer when it settles', async () => {
    const setSpy = vi.spyOn(globalThis, 'setTimeout')
    const clearSpy = vi.spyOn(globalThis, 'clearTimeout')
    const { port, next } = await startServer()
    tlsClient(port, { servername: 'timer.example.test' })
    await expect(peekServerName(await next(), 4_321)).resolves.toBe('timer.example.test')
    const i = setSpy.mock.calls.findIndex((c) => c[1] === 4_321)
    expect(i).toBeGreaterThanOrEqual(0)
    expect(clearSpy).toHaveBeenCalledWith(setSpy.mock.results[i]!.value)
  })

  it('rejects non-TLS data with not-tls and still puts the bytes back', async () => {
    const { port, next } = await startServer()
    const client = await rawClient(port)
    const socket = await next()
    const before = listenerCounts(socket)
    client.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n')
    const err = await peekServerName(socket, 2_000).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SniError)
    expect((err as SniError).reason).toBe('not-tls')
    expect((err as SniError).code).toBe('FULCRUM_ERR_TLS_CLIENT_HELLO')
    expect(listenerCounts(socket)).toEqual(before)
    client.end()
    expect((await readAll(socket)).toString()).toBe('GET / HTTP/1.1\r\nHost: a\r\n\r\n')
  })

  it('rejects with timeout when the ClientHello does not complete in time', async () => {
    const hello = await captureClientHello({ servername: 'slow.example.test' })
    const { port, next } = await startServer()
    const client = await rawClient(port)
    const socket = await next()
    const before = listenerCounts(socket)
    client.write(hello.subarray(0, 20))
    const started = performance.now()
    const err = await peekServerName(socket, 150).catch((e: unknown) => e)
    const elapsed = performance.now() - started
    expect((err as SniError).reason).toBe('timeout')
    expect(elapsed).toBeGreaterThanOrEqual(140)
    expect(elapsed).toBeLessThan(2_000)
    expect(listenerCounts(socket)).toEqual(before)
    expect(socket.isPaused()).toBe(true)
    expect(socket.readableLength).toBe(20) // the partial hello was put back
  })

  it('rejects with timeout on a silent client', async () => {
    const { port, next } = await startServer()
    await rawClient(port)
    const err = await peekServerName(await next(), 50).catch((e: unknown) => e)
    expect((err as SniError).reason).toBe('timeout')
  })

  it('rejects with closed when the client ends or resets before the ClientHello is complete', async () => {
    const hello = await captureClientHello({ servername: 'gone.example.test' })
    const { port, next } = await startServer()

    const ending = await rawClient(port)
    const s1 = await next()
    const before = listenerCounts(s1)
    const p1 = peekServerName(s1, 5_000).catch((e: unknown) => e)
    ending.end(hello.subarray(0, 30))
    expect((await p1) as SniError).toMatchObject({ reason: 'closed' })
    expect(listenerCounts(s1)).toEqual(before)

    const resetting = await rawClient(port)
    const s2 = await next()
    const p2 = peekServerName(s2, 5_000).catch((e: unknown) => e)
    resetting.write(hello.subarray(0, 30))
    await sleep(20)
    resetting.resetAndDestroy()
    const err = (await p2) as SniError
    expect(err).toBeInstanceOf(SniError)
    expect(err.reason).toBe('closed')
  })

  it('rejects with closed for a socket that is already destroyed', async () => {
    const { port, next } = await startServer()
    await rawClient(port)
    const socket = await next()
    socket.destroy()
    await expect(peekServerName(socket, 1_000)).rejects.toMatchObject({ reason: 'closed' })
    expect(socket.listenerCount('data')).toBe(0)
  })

  it('rejects bad timeouts with InvalidOptionError', () => {
    const socket = new net.Socket()
    cleanups.push(() => socket.destroy())
    for (const t of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31])
      expect(() => peekServerName(socket, t), String(t)).toThrow(InvalidOptionError)
  })
})

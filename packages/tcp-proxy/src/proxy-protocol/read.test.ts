import { once } from 'node:events'
import * as net from 'node:net'
import { PassThrough } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { ProxyAddresses } from '../types.js'
import { encodeProxyHeader, encodeProxyV2Local } from './encode.js'
import { ProxyProtocolError, type ProxyProtocolErrorReason } from './errors.js'
import { readProxyHeader } from './read.js'

const tcp4: ProxyAddresses = {
  family: 'TCP4',
  sourceAddress: '192.0.2.10',
  sourcePort: 51234,
  destinationAddress: '198.51.100.1',
  destinationPort: 443,
}
const tcp6: ProxyAddresses = {
  family: 'TCP6',
  sourceAddress: '2001:db8::1',
  sourcePort: 1,
  destinationAddress: '::ffff:192.0.2.1',
  destinationPort: 65535,
}

const EVENTS = ['data', 'end', 'close', 'error', 'readable'] as const

let server: net.Server
let accepted: net.Socket[] = []
let sockets: net.Socket[] = []

beforeEach(async () => {
  accepted = []
  sockets = []
  server = net.createServer({ pauseOnConnect: false }, (socket) => {
    socket.on('error', () => {}) // tests look at errors through readProxyHeader
    accepted.push(socket)
    server.emit('test-accepted', socket)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
})

afterEach(async () => {
  for (const s of [...sockets, ...accepted]) s.destroy()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

/** A connected loopback pair: `client` writes, `socket` is the server side under test. */
async function pair(): Promise<{ client: net.Socket; socket: net.Socket }> {
  const { port } = server.address() as net.AddressInfo
  const acceptedPromise = once(server, 'test-accepted') as Promise<[net.Socket]>
  const client = net.connect({ port, host: '127.0.0.1', noDelay: true })
  client.on('error', () => {})
  sockets.push(client)
  await once(client, 'connect')
  const [socket] = await acceptedPromise
  return { client, socket }
}

function listenerCounts(socket: net.Socket): Record<string, number> {
  return Object.fromEntries(EVENTS.map((event) => [event, socket.listenerCount(event)]))
}

/** Writes the chunks one by one, waiting for each to be flushed and a moment more. */
async function writeSlowly(client: net.Socket, chunks: readonly Buffer[]): Promise<void> {
  for (const chunk of chunks) {
    await new Promise<void>((resolve, reject) =>
      client.write(chunk, (err) => (err ? reject(err) : resolve())),
    )
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Everything the socket delivers from now until its end. */
async function readAll(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  socket.resume()
  await once(socket, 'end')
  return Buffer.concat(chunks)
}

async function rejection(promise: Promise<unknown>): Promise<ProxyProtocolError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection')
    },
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ProxyProtocolError)
  return error as ProxyProtocolError
}

function split(buf: Buffer, ...at: number[]): Buffer[] {
  const out: Buffer[] = []
  let from = 0
  for (const to of at) {
    out.push(buf.subarray(from, to))
    from = to
  }
  out.push(buf.subarray(from))
  return out
}

describe('readProxyHeader on a loopback socket', () => {
  it('reads a v1 header split over several writes; the payload after it reaches a later reader intact', async () => {
    const { client, socket } = await pair()
    const before = listenerCounts(socket)
    const header = encodeProxyHeader(1, tcp4)
    const payload = Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n')
    const wire = Buffer.concat([header, payload.subarray(0, 10)])
    const reading = readProxyHeader(socket, 5_000)
    let settled = false
    void reading.finally(() => {
      settled = true
    })
    const chunks = split(wire, 3, 6, 20, header.length - 1)
    await writeSlowly(client, chunks.slice(0, -1))
    expect(settled).toBe(false) // four chunks in, the header is still incomplete
    await writeSlowly(client, chunks.slice(-1))
    await expect(reading).resolves.toEqual({ version: 1, local: false, ...tcp4, tlvs: new Map() })
    expect(listenerCounts(socket)).toEqual(before)
    expect(socket.isPaused()).toBe(true)
    const rest = readAll(socket)
    await writeSlowly(client, [payload.subarray(10)])
    client.end()
    expect((await rest).toString()).toBe(payload.toString())
  })

  it('reads a v2 header with TLVs fed byte by byte', async () => {
    const { client, socket } = await pair()
    const before = listenerCounts(socket)
    const tlvs = new Map([
      [0x01, Buffer.from('h2')],
      [0x02, Buffer.from('example.com')],
    ])
    const header = encodeProxyHeader(2, tcp6, { tlvs })
    const reading = readProxyHeader(socket, 5_000)
    await writeSlowly(
      client,
      [...header].map((byte) => Buffer.from([byte])),
    )
    await expect(reading).resolves.toEqual({ version: 2, local: false, ...tcp6, tlvs })
    expect(listenerCounts(socket)).toEqual(before)
    const rest = readAll(socket)
    client.end(Buffer.from([0, 1, 2]))
    expect(await rest).toEqual(Buffer.from([0, 1, 2]))
  })

  it('header, payload and FIN in one write: nothing lost, end still delivered', async () => {
    const { client, socket } = await pair()
    const payload = Buffer.from('hello backend')
    client.end(Buffer.concat([encodeProxyV2Local(), payload]))
    const header = await readProxyHeader(socket, 5_000)
    expect(header).toMatchObject({ version: 2, local: true, family: 'UNKNOWN' })
    // Let the FIN arrive while the socket is paused with the unshifted bytes.
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect((await readAll(socket)).toString()).toBe('hello backend')
  })

  it('a large payload after the header is piped through byte-exact', async () => {
    const { client, socket } = await pair()
    const payload = Buffer.alloc(1 << 20)
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff
    client.end(Buffer.concat([encodeProxyHeader(1, tcp6), payload]))
    await expect(readProxyHeader(socket, 5_000)).resolves.toMatchObject({ family: 'TCP6' })
    const chunks: Buffer[] = []
    const through = new PassThrough()
    through.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.pipe(through)
    await once(through, 'end')
    expect(Buffer.concat(chunks).equals(payload)).toBe(true)
  })

  it('data already buffered in a paused socket is read', async () => {
    const { client, socket } = await pair()
    socket.pause()
    client.write(Buffer.concat([encodeProxyHeader(1, tcp4), Buffer.from('x')]))
    await new Promise((resolve) => setTimeout(resolve, 20))
    await expect(readProxyHeader(socket, 5_000)).resolves.toMatchObject({ sourcePort: 51234 })
    const rest = readAll(socket)
    client.end()
    expect((await rest).toString()).toBe('x')
  })

  it('a partial header followed by the peer ending → partial-header', async () => {
    const { client, socket } = await pair()
    const before = listenerCounts(socket)
    const reading = readProxyHeader(socket, 5_000)
    await writeSlowly(client, [encodeProxyHeader(2, tcp4).subarray(0, 20)])
    client.end()
    const error = await rejection(reading)
    expect(error.reason).toBe('partial-header')
    expect(error.message).toMatch(/ended after 20 byte/)
    expect(listenerCounts(socket)).toEqual(before)
  })

  it('a partial header followed by a reset or a local destroy → partial-header', async () => {
    {
      const { client, socket } = await pair()
      const reading = readProxyHeader(socket, 5_000)
      await writeSlowly(client, [Buffer.from('PROXY TCP4 1.2')])
      client.resetAndDestroy()
      expect((await rejection(reading)).reason).toBe('partial-header')
    }
    {
      const { client, socket } = await pair()
      const before = listenerCounts(socket)
      const reading = readProxyHeader(socket, 5_000)
      await writeSlowly(client, [Buffer.from('PROXY TCP4 1.2')])
      const boom = new Error('boom')
      socket.destroy(boom)
      const error = await rejection(reading)
      expect(error.reason).toBe('partial-header')
      expect(error.cause).toBe(boom)
      expect(listenerCounts(socket)).toEqual(before)
    }
  })

  it('garbage → rejected at once with the parser reason, listeners removed', async () => {
    const { client, socket } = await pair()
    const before = listenerCounts(socket)
    const reading = readProxyHeader(socket, 5_000)
    client.write('GET / HTTP/1.1\r\n\r\n')
    const error = await rejection(reading)
    expect(error.reason).toBe('not-proxy-protocol')
    expect(error.code).toBe('FULCRUM_ERR_PROXY_PROTOCOL')
    expect(listenerCounts(socket)).toEqual(before)
    expect(socket.destroyed).toBe(false) // closing is the caller's job
  })

  it.each<[string, Buffer, ProxyProtocolErrorReason]>([
    ['a malformed v1 line', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'), 'malformed-line'],
    ['an oversized v2 header', Buffer.from('0d0a0d0a000d0a515549540a2100ffff', 'hex'), 'too-long'],
  ])('%s → %s', async (_name, bytes, reason) => {
    const { client, socket } = await pair()
    const reading = readProxyHeader(socket, 5_000)
    client.write(bytes)
    expect((await rejection(reading)).reason).toBe(reason)
  })

  it('no complete header in time → timeout, with listeners and timer gone', async () => {
    const { client, socket } = await pair()
    const before = listenerCounts(socket)
    const setSpy = vi.spyOn(globalThis, 'setTimeout')
    const clearSpy = vi.spyOn(globalThis, 'clearTimeout')
    try {
      const started = Date.now()
      const reading = readProxyHeader(socket, 77)
      client.write('PROXY TCP4 ')
      const error = await rejection(reading)
      expect(error.reason).toBe('timeout')
      expect(Date.now() - started).toBeGreaterThanOrEqual(70)
      expect(listenerCounts(socket)).toEqual(before)
      const ours = setSpy.mock.calls.findIndex((call) => call[1] === 77)
      expect(ours).toBeGreaterThanOrEqual(0)
      expect(clearSpy).toHaveBeenCalledWith(setSpy.mock.results[ours]?.value)
    } finally {
      setSpy.mockRestore()
      clearSpy.mockRestore()
    }
  })

  it('clears its timer on success too', async () => {
    const { client, socket } = await pair()
    const setSpy = vi.spyOn(globalThis, 'setTimeout')
    const clearSpy = vi.spyOn(globalThis, 'clearTimeout')
    try {
      const reading = readProxyHeader(socket, 7_777)
      client.write(encodeProxyHeader(1, tcp4))
      await reading
      const ours = setSpy.mock.calls.findIndex((call) => call[1] === 7_777)
      expect(clearSpy).toHaveBeenCalledWith(setSpy.mock.results[ours]?.value)
    } finally {
      setSpy.mockRestore()
      clearSpy.mockRestore()
    }
  })

  it('an already closed socket → partial-header; bad arguments → RangeError / TypeError', async () => {
    const { socket } = await pair()
    socket.destroy()
    expect((await rejection(readProxyHeader(socket, 1_000))).reason).toBe('partial-header')
    const second = await pair()
    await expect(readProxyHeader(second.socket, 0)).rejects.toBeInstanceOf(RangeError)
    await expect(readProxyHeader(second.socket, Number.NaN)).rejects.toBeInstanceOf(RangeError)
    second.socket.setEncoding('utf8')
    await expect(readProxyHeader(second.socket, 1_000)).rejects.toBeInstanceOf(TypeError)
    expect(second.socket.listenerCount('data')).toBe(0)
  })

  it('Infinity means no timer at all', async () => {
    const { client, socket } = await pair()
    const setSpy = vi.spyOn(globalThis, 'setTimeout')
    try {
      const reading = readProxyHeader(socket, Number.POSITIVE_INFINITY)
      expect(setSpy.mock.calls.some((call) => call[1] === Number.POSITIVE_INFINITY)).toBe(false)
      client.write(encodeProxyHeader(2, tcp4))
      await expect(reading).resolves.toMatchObject({ version: 2, family: 'TCP4' })
    } finally {
      setSpy.mockRestore()
    }
  })
})

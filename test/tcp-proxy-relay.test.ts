/**
 * The TCP proxy's relay over real loopback sockets: echo, a server that speaks first, early client
 * bytes, half-close both ways, and how a backend's close or reset reaches the client.
 */
import { once } from 'node:events'
import net, { type AddressInfo } from 'node:net'
import { type Backend, createBalancer } from '@fulcrum/core'
import type { ConnectionCloseEvent } from '@fulcrum/tcp-proxy'
import { afterEach, describe, expect, it } from 'vitest'
import { Harness, HOST, inOrder, noConnections, received, sleep, waitFor } from './tcp-proxy-helpers.js'

const h = new Harness()
afterEach(() => h.closeAll())

function balancerFor(...ports: number[]) {
  return createBalancer()
    .backends(ports.map((port, i) => ({ id: `b${i}`, host: HOST, port })))
    .build()
}

function closes(proxy: { on(e: 'connection:close', l: (e: ConnectionCloseEvent) => void): unknown }) {
  const list: ConnectionCloseEvent[] = []
  proxy.on('connection:close', (e) => list.push(e))
  return list
}

describe('tcp proxy relay', () => {
  it('echoes both ways, byte for byte, and books the bytes', async () => {
    const echo = await h.echo()
    const lb = balancerFor(echo.port)
    const { proxy, port } = await h.proxy(lb)
    const closed = closes(proxy)
    const client = h.client(port)
    const result = received(client)
    const payload = Buffer.alloc(300_000, 'abc')
    client.end(payload)
    const r = await result
    expect(r.data.equals(payload)).toBe(true)
    expect(r.ended).toBe(true)
    await waitFor(() => closed.length === 1)
    expect(closed[0]).toMatchObject({ reason: 'end', bytesIn: 300_000, bytesOut: 300_000 })
    expect(closed[0]!.backend?.id).toBe('b0')
    expect(lb.get('b0')!.inflight).toBe(0)
    expect(lb.get('b0')!.counters).toMatchObject({ requests: 1, successes: 1, failures: 0 })
    await noConnections(proxy.server)
    await noConnections(echo.server)
  })

  it('relays a server that speaks first', async () => {
    const greeter = await h.server((s) => s.write('220 hello\r\n'))
    const { port } = await h.proxy(balancerFor(greeter.port))
    const client = h.client(port)
    const [chunk] = (await once(client, 'data')) as [Buffer]
    expect(chunk.toString()).toBe('220 hello\r\n')
  })

  it('keeps what the client sends before the backend is connected (here: during a failover)', async () => {
    const got: Buffer[] = []
    const sink = await h.server((s) => {
      s.on('data', (c: Buffer) => got.push(c))
      s.on('end', () => s.end('bye'))
    })
    const hanging = await h.hangingPort()
    const lb = createBalancer()
      .backends([
        { id: 'hanging', host: HOST, port: hanging },
        { id: 'sink', host: HOST, port: sink.port },
      ])
      .strategy(inOrder) // the hanging backend first
      .build()
    const { proxy, port } = await h.proxy(lb, { connectTimeoutMs: 200 })
    let opened = false
    proxy.on('connection:open', () => {
      opened = true
    })
    const client = h.client(port)
    const result = received(client)
    await once(client, 'connect')
    client.write('early-1 ')
    client.end('early-2')
    await sleep(50)
    expect(opened).toBe(false) // still waiting for the hanging backend
    const r = await result
    expect(Buffer.concat(got).toString()).toBe('early-1 early-2')
    expect(r.data.toString()).toBe('bye')
  })

  it('a FIN with no data while the proxy is still connecting is forwarded once connected', async () => {
    const backend = await h.server((s) => s.on('end', () => s.end('answer after your FIN')))
    const lb = createBalancer()
      .backends([
        { id: 'hanging', host: HOST, port: await h.hangingPort() },
        { id: 'ok', host: HOST, port: backend.port },
      ])
      .strategy(inOrder)
      .build()
    const { port } = await h.proxy(lb, { connectTimeoutMs: 100 })
    const client = h.client(port)
    const result = received(client)
    client.end()
    const r = await result
    expect(r.data.toString()).toBe('answer after your FIN')
    expect(r.ended).toBe(true)
  })

  it('half-close, client first: the backend sees end and can still answer', async () => {
    const backend = await h.server((s) => {
      let text = ''
      s.on('data', (c: Buffer) => (text += c))
      s.on('end', () => {
        // The client's FIN arrived; this side is still writable.
        setTimeout(() => s.end(`got ${text}`), 20)
      })
    })
    const { port } = await h.proxy(balancerFor(backend.port))
    const client = h.client(port)
    const result = received(client)
    client.end('question')
    const r = await result
    expect(r.data.toString()).toBe('got question')
    expect(r.ended).toBe(true)
    expect(r.error).toBeUndefined()
  })

  it('half-close, backend first: the client sees end and can still send', async () => {
    const got: string[] = []
    let backendEnded = false
    const backend = await h.server((s) => {
      s.end('banner-then-fin')
      s.on('data', (c: Buffer) => got.push(c.toString()))
      s.on('end', () => {
        backendEnded = true
      })
    })
    const { port } = await h.proxy(balancerFor(backend.port))
    const client = h.client(port)
    const closed = once(client, 'close')
    const chunks: Buffer[] = []
    client.on('data', (c: Buffer) => chunks.push(c))
    await once(client, 'end')
    expect(Buffer.concat(chunks).toString()).toBe('banner-then-fin')
    client.write('still ')
    client.end('sending')
    await waitFor(() => backendEnded, 2_000, 'backend end')
    expect(got.join('')).toBe('still sending')
    await closed
  })

  it('a backend close reaches the client after all the data: every byte, then end', async () => {
    const size = 4 * 1024 * 1024
    const backend = await h.server((s) => s.end(Buffer.alloc(size, 7)))
    const { proxy, port } = await h.proxy(balancerFor(backend.port))
    const closed = closes(proxy)
    const r = await received(h.client(port))
    expect(r.data.length).toBe(size)
    expect(r.ended).toBe(true)
    expect(r.error).toBeUndefined()
    await waitFor(() => closed.length === 1)
    expect(closed[0]).toMatchObject({ reason: 'end', bytesOut: size })
  })

  it('a backend reset reaches the client after the data already sent: every byte, then ECONNRESET', async () => {
    let clientBytes = 0
    const size = 256 * 1024
    const backend = await h.server((s) => {
      s.write(Buffer.alloc(size, 1))
      // Reset once the client has it all (a RST that overtakes unread data reads as a FIN in libuv).
      void waitFor(() => clientBytes === size, 5_000).then(() => s.resetAndDestroy())
    })
    const lb = balancerFor(backend.port)
    const { proxy, port } = await h.proxy(lb)
    const closed = closes(proxy)
    const client = h.client(port)
    client.on('data', (c: Buffer) => (clientBytes += c.length))
    const r = await received(client)
    expect(r.data.length).toBe(size)
    expect(r.ended).toBe(false)
    expect(r.error).toBe('ECONNRESET')
    await waitFor(() => closed.length === 1)
    expect(closed[0]).toMatchObject({ reason: 'upstream-reset', bytesOut: size })
    const b = lb.get('b0') as Backend
    expect(b.inflight).toBe(0)
    expect(b.counters).toMatchObject({ failures: 1, lastFailure: 'reset' })
  })

  it('a client reset reaches the backend, and is not held against it', async () => {
    let backendError: string | undefined
    let backendGot = 0
    const backend = await h.server((s) => {
      s.on('data', (c: Buffer) => (backendGot += c.length))
      s.on('error', (e: NodeJS.ErrnoException) => (backendError = e.code))
    })
    const lb = balancerFor(backend.port)
    const { proxy, port } = await h.proxy(lb)
    const closed = closes(proxy)
    const client = h.client(port)
    client.write('x'.repeat(1000))
    await waitFor(() => backendGot === 1000)
    client.resetAndDestroy()
    await waitFor(() => backendError !== undefined, 2_000, 'backend error')
    expect(backendError).toBe('ECONNRESET')
    await waitFor(() => closed.length === 1)
    expect(closed[0]!.reason).toBe('client-reset')
    expect(lb.get('b0')!.counters).toMatchObject({ cancelled: 1, failures: 0 })
    expect(lb.get('b0')!.inflight).toBe(0)
  })

  it('handle() proxies sockets accepted by another server, half-close included', async () => {
    const backend = await h.server((s) => {
      let text = ''
      s.on('data', (c: Buffer) => (text += c))
      s.on('end', () => setTimeout(() => s.end(`after FIN: ${text}`), 20))
    })
    const { proxy } = await h.proxy(balancerFor(backend.port))
    // A server without allowHalfOpen: handle() switches its sockets to half-open.
    const front = net.createServer((s) => proxy.handle(s))
    front.listen(0, HOST)
    await once(front, 'listening')
    try {
      const client = h.client((front.address() as AddressInfo).port)
      const result = received(client)
      client.end('via handle')
      const r = await result
      expect(r.data.toString()).toBe('after FIN: via handle')
      expect(r.error).toBeUndefined()
    } finally {
      await new Promise((resolve) => front.close(resolve))
    }
  })
})

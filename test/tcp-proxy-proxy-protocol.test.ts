/**
 * PROXY protocol through the proxy: headers sent to backends byte-exact (v1, v2, per-backend
 * choice), headers accepted from a trusted front balancer (their addresses become the context and
 * are forwarded), and untrusted, malformed or late headers closing the connection.
 */
import { once } from 'node:events'
import { createBalancer } from '@fulcrum/core'
import { ringHash } from '@fulcrum/strategies'
import {
  type ConnectionErrorEvent,
  type ConnectionOpenEvent,
  ProxyProtocolError,
  UntrustedPeerError,
} from '@fulcrum/tcp-proxy'
import { afterEach, describe, expect, it } from 'vitest'
import { Harness, HOST, received, type TestServer, waitFor } from './tcp-proxy-helpers.js'

const h = new Harness()
afterEach(() => h.closeAll())

/** A backend that records everything each connection sent, and answers 'ok' at its end. */
async function recorder(): Promise<{ server: TestServer; got: Buffer[] }> {
  const got: Buffer[] = []
  const server = await h.server((s) => {
    const chunks: Buffer[] = []
    s.on('data', (c: Buffer) => chunks.push(c))
    s.on('end', () => {
      got.push(Buffer.concat(chunks))
      s.end('ok')
    })
  })
  return { server, got }
}

function v2Tcp4(src: string, dst: string, sport: number, dport: number): Buffer {
  const sig = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
  const body = Buffer.alloc(12)
  src.split('.').forEach((o, i) => {
    body.writeUInt8(Number(o), i)
  })
  dst.split('.').forEach((o, i) => {
    body.writeUInt8(Number(o), 4 + i)
  })
  body.writeUInt16BE(sport, 8)
  body.writeUInt16BE(dport, 10)
  return Buffer.concat([sig, Buffer.from([0x21, 0x11, 0x00, 0x0c]), body])
}

describe('tcp proxy: sending the PROXY protocol', () => {
  it('v1: the backend gets the text header with the client and proxy endpoints, then the bytes', async () => {
    const { server, got } = await recorder()
    const lb = createBalancer()
      .backends([{ id: 'r', host: HOST, port: server.port }])
      .build()
    const { port } = await h.proxy(lb, { sendProxyProtocol: 1 })
    const client = h.client(port)
    await once(client, 'connect')
    const clientPort = client.localPort!
    const r = received(client)
    client.end('payload')
    expect((await r).data.toString()).toBe('ok')
    expect(got[0]!.toString('latin1')).toBe(`PROXY TCP4 ${HOST} ${HOST} ${clientPort} ${port}\r\npayload`)
  })

  it('v2: the binary header, byte for byte', async () => {
    const { server, got } = await recorder()
    const lb = createBalancer()
      .backends([{ id: 'r', host: HOST, port: server.port }])
      .build()
    const { port } = await h.proxy(lb, { sendProxyProtocol: 2 })
    const client = h.client(port)
    await once(client, 'connect')
    const header = v2Tcp4(HOST, HOST, client.localPort!, port)
    const r = received(client)
    client.end('payload')
    await r
    expect(got[0]!.subarray(0, header.length).equals(header)).toBe(true)
    expect(got[0]!.subarray(header.length).toString()).toBe('payload')
  })

  it("a backend's meta.proxyProtocol wins over the proxy's default (2, or 0 for none)", async () => {
    const a = await recorder()
    const b = await recorder()
    const lb = createBalancer()
      .backends([
        { id: 'a', host: HOST, port: a.server.port, meta: { proxyProtocol: 2 } },
        { id: 'b', host: HOST, port: b.server.port, meta: { proxyProtocol: 0 } },
      ])
      .build()
    const { port } = await h.proxy(lb, { sendProxyProtocol: 1 })
    lb.disable('b')
    const c1 = h.client(port)
    const r1 = received(c1)
    c1.end('to-a')
    await r1
    lb.enable('b')
    lb.disable('a')
    const c2 = h.client(port)
    const r2 = received(c2)
    c2.end('to-b')
    await r2
    expect(a.got[0]!.subarray(0, 12).toString('latin1')).toBe('\r\n\r\n\0\r\nQUIT\n')
    expect(b.got[0]!.toString()).toBe('to-b')
  })
})

describe('tcp proxy: accepting the PROXY protocol', () => {
  it('from a trusted peer: the header addresses become the context, are forwarded, and are the hash key', async () => {
    const { server, got } = await recorder()
    const lb = createBalancer()
      .backends([{ id: 'r', host: HOST, port: server.port }])
      .strategy(ringHash())
      .build()
    const { proxy, port } = await h.proxy(lb, {
      acceptProxyProtocol: { trusted: ['127.0.0.0/8'] },
      sendProxyProtocol: 1,
    })
    const opened: ConnectionOpenEvent[] = []
    proxy.on('connection:open', (e) => opened.push(e))
    const client = h.client(port)
    const r = received(client)
    // Header and first bytes in one write: the bytes after the header must not be lost.
    client.end('PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\nhello')
    expect((await r).data.toString()).toBe('ok')
    expect(got[0]!.toString('latin1')).toBe('PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\nhello')
    expect(opened[0]!.ctx).toMatchObject({
      remoteAddress: '203.0.113.7',
      remotePort: 40000,
      localAddress: '198.51.100.1',
      localPort: 443,
      key: '203.0.113.7',
    })
    expect(opened[0]!.ctx.proxied).toMatchObject({ version: 1, family: 'TCP4', sourceAddress: '203.0.113.7' })
  })

  it('v2 from a trusted peer, forwarded as v2', async () => {
    const { server, got } = await recorder()
    const lb = createBalancer()
      .backends([{ id: 'r', host: HOST, port: server.port }])
      .build()
    const { port } = await h.proxy(lb, { acceptProxyProtocol: { trusted: [HOST] }, sendProxyProtocol: 2 })
    const client = h.client(port)
    const r = received(client)
    const header = v2Tcp4('192.0.2.1', '192.0.2.2', 1234, 5678)
    client.write(header)
    client.end('after')
    await r
    expect(got[0]!.equals(Buffer.concat([header, Buffer.from('after')]))).toBe(true)
  })

  it('from an untrusted peer: closed at once, nothing read, no backend contacted', async () => {
    const { server } = await recorder()
    const lb = createBalancer()
      .backends([{ id: 'r', host: HOST, port: server.port }])
      .build()
    const { proxy, port } = await h.proxy(lb, { acceptProxyProtocol: { trusted: ['10.0.0.1'] } })
    const errors: ConnectionErrorEvent[] = []
    proxy.on('connection:error', (e) => errors.push(e))
    const client = h.client(port)
    client.write('PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\n')
    const r = await received(client)
    expect(r.data.length).toBe(0)
    expect(errors[0]!.reason).toBe('untrusted')
    expect(errors[0]!.error).toBeInstanceOf(UntrustedPeerError)
    expect(server.accepted).toBe(0)
  })

  it('a malformed header closes the connection (reason proxy-protocol)', async () => {
    const { server } = await recorder()
    const lb = createBalancer()
      .backends([{ id: 'r', host: HOST, port: server.port }])
      .build()
    const { proxy, port } = await h.proxy(lb, { acceptProxyProtocol: { trusted: [HOST] } })
    const errors: ConnectionErrorEvent[] = []
    proxy.on('connection:error', (e) => errors.push(e))
    const client = h.client(port)
    client.write('PROXY TCP4 not-an-ip 198.51.100.1 40000 443\r\n')
    await received(client)
    expect(errors[0]!.reason).toBe('proxy-protocol')
    expect(errors[0]!.error).toBeInstanceOf(ProxyProtocolError)
    expect(server.accepted).toBe(0)
  })

  it('a partial header that never completes is closed after timeoutMs', async () => {
    const { server } = await recorder()
    const lb = createBalancer()
      .backends([{ id: 'r', host: HOST, port: server.port }])
      .build()
    const { proxy, port } = await h.proxy(lb, { acceptProxyProtocol: { trusted: [HOST], timeoutMs: 100 } })
    const errors: ConnectionErrorEvent[] = []
    proxy.on('connection:error', (e) => errors.push(e))
    const client = h.client(port)
    client.write('PROXY TCP4 203.0.113.7 ')
    const started = Date.now()
    await received(client)
    expect(Date.now() - started).toBeLessThan(1_000)
    await waitFor(() => errors.length === 1)
    expect((errors[0]!.error as ProxyProtocolError).reason).toBe('timeout')
    expect(server.accepted).toBe(0)
  })
})

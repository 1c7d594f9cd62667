/**
 * WebSocket through the HTTP proxy with real `ws` clients and servers on loopback: the handshake
 * goes through the balancer (dead backends are skipped), a 10 MiB message is echoed intact, an
 * upstream answer other than 101 never becomes a tunnel, close and reset travel to the other side,
 * and idle tunnels are cut.
 */
import { once } from 'node:events'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { createBalancer, type Strategy } from '@fulcrum/core'
import { createHttpProxy, type HttpProxyOptions } from '@fulcrum/http-proxy'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'

const HOST = '127.0.0.1'
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const inOrder: Strategy = {
  name: 'in-order',
  build: (snap) => ({ select: (_ctx, skip) => snap.eligible.find((b) => !skip.has(b)) }),
}

async function listening(server: http.Server | net.Server): Promise<number> {
  server.listen(0, HOST)
  await once(server, 'listening')
  return (server.address() as AddressInfo).port
}

/** A `ws` echo server on its own node:http server; counts handshakes and sees close codes. */
async function echoBackend() {
  const server = http.createServer((_req, res) => res.end('plain'))
  const wss = new WebSocketServer({ server, maxPayload: 64 * 1024 * 1024 })
  const state = {
    handshakes: 0,
    closes: [] as number[],
    sockets: new Set<WebSocket>(),
    headers: [] as string[][],
  }
  wss.on('connection', (ws, req) => {
    state.handshakes++
    state.headers.push(req.rawHeaders)
    state.sockets.add(ws)
    ws.on('message', (data, binary) => ws.send(data, { binary }))
    ws.on('close', (code) => {
      state.closes.push(code)
      state.sockets.delete(ws)
    })
  })
  const port = await listening(server)
  cleanups.push(async () => {
    for (const ws of wss.clients) ws.terminate()
    wss.close()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })
  return { url: `http://${HOST}:${port}`, state, server }
}

async function gateway(urls: string[], options: HttpProxyOptions = {}) {
  const lb = createBalancer().backends(urls).strategy(inOrder).build()
  const proxy = createHttpProxy(lb, options)
  const server = proxy.attach(http.createServer(proxy))
  const port = await listening(server)
  cleanups.push(async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
    await proxy.close()
  })
  return { lb, port, server }
}

function client(port: number, path = '/chat'): WebSocket {
  const ws = new WebSocket(`ws://${HOST}:${port}${path}`, { maxPayload: 64 * 1024 * 1024 })
  ws.on('error', () => {}) // a refused handshake errors after 'unexpected-response'
  cleanups.push(() => ws.terminate())
  return ws
}

describe('WebSocket through the proxy', () => {
  it('echoes a 10 MiB binary message intact, with forwarding headers on the handshake', async () => {
    const b = await echoBackend()
    const g = await gateway([b.url])
    const ws = client(g.port)
    await once(ws, 'open')
    const payload = Buffer.alloc(10 * 1024 * 1024)
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i)
    ws.send(payload)
    const [data] = (await once(ws, 'message')) as [Buffer]
    expect(data.length).toBe(payload.length)
    expect(data.equals(payload)).toBe(true)
    const raw = b.state.headers[0]!
    const names = raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())
    expect(names).toContain('x-forwarded-for')
    expect(names).toContain('sec-websocket-key')
    expect(raw[names.indexOf('via') * 2 + 1]).toBe('1.1 fulcrum')
  })

  it('skips a dead backend: the handshake goes to the next one', async () => {
    const dead = net.createServer()
    const deadPort = await listening(dead)
    await new Promise((r) => dead.close(r))
    const b = await echoBackend()
    const g = await gateway([`http://${HOST}:${deadPort}`, b.url])
    const ws = client(g.port)
    await once(ws, 'open')
    ws.send('hi')
    const [data] = (await once(ws, 'message')) as [Buffer]
    expect(data.toString()).toBe('hi')
    expect(g.lb.backends()[0]!.counters.failures).toBe(1)
    await waitUntil(() => g.lb.backends().every((x) => x.inflight <= 1))
  })

  it('never tunnels an upstream answer other than 101: the client gets it as a response', async () => {
    const plain = http.createServer((_req, res) => {
      res.writeHead(403, { 'content-type': 'text/plain' })
      res.end('no websockets here')
    })
    const port = await listening(plain)
    cleanups.push(async () => {
      plain.closeAllConnections()
      await new Promise((r) => plain.close(r))
    })
    const g = await gateway([`http://${HOST}:${port}`])
    const ws = client(g.port)
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage]
    expect(res.statusCode).toBe(403)
    let body = ''
    for await (const chunk of res) body += chunk
    expect(body).toBe('no websockets here')
    expect(g.lb.backends()[0]!.inflight).toBe(0)
  })

  it('propagates a client close to the backend and a backend close to the client', async () => {
    const b = await echoBackend()
    const g = await gateway([b.url])
    const ws = client(g.port)
    await once(ws, 'open')
    ws.close(4001, 'bye')
    await waitUntil(() => b.state.closes.includes(4001))
    const ws2 = client(g.port)
    await once(ws2, 'open')
    for (const s of b.state.sockets) s.close(4002, 'server bye')
    const [code] = (await once(ws2, 'close')) as [number]
    expect(code).toBe(4002)
    await waitUntil(() => g.lb.backends()[0]!.inflight === 0)
  })

  it('propagates a backend reset as an abnormal close (1006) and frees the backend', async () => {
    const b = await echoBackend()
    const g = await gateway([b.url])
    const ws = client(g.port)
    await once(ws, 'open')
    for (const s of b.state.sockets) s.terminate()
    const [code] = (await once(ws, 'close')) as [number]
    expect(code).toBe(1006)
    await waitUntil(() => g.lb.backends()[0]!.inflight === 0)
  })

  it('cuts an idle tunnel after websocket.idleTimeoutMs', async () => {
    const b = await echoBackend()
    const g = await gateway([b.url], { websocket: { idleTimeoutMs: 200 } })
    const ws = client(g.port)
    await once(ws, 'open')
    const opened = Date.now()
    const [code] = (await once(ws, 'close')) as [number]
    expect(code).toBe(1006)
    expect(Date.now() - opened).toBeGreaterThanOrEqual(150)
    expect(Date.now() - opened).toBeLessThan(3_000)
  })

  it('answers 503 with Retry-After when no backend is eligible', async () => {
    const b = await echoBackend()
    const g = await gateway([b.url])
    g.lb.drain(g.lb.backends()[0]!.id)
    const ws = client(g.port)
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage]
    expect(res.statusCode).toBe(503)
    expect(res.headers['retry-after']).toBeDefined()
    res.resume()
    expect(b.state.handshakes).toBe(0)
  })

  it('runs the request hooks on the handshake: onRequest can refuse it, onLog sees it once', async () => {
    const b = await echoBackend()
    const logs: number[] = []
    const g = await gateway([b.url], {
      onRequest: (ctx) => {
        if (ctx.req.headers.authorization === 'Bearer ok') return false
        ctx.res.writeHead(401, { 'content-type': 'text/plain' })
        ctx.res.end('who are you?')
        return true
      },
      onLog: (ctx) => logs.push(ctx.status),
    })
    const denied = client(g.port)
    const [, res] = (await once(denied, 'unexpected-response')) as [unknown, http.IncomingMessage]
    expect(res.statusCode).toBe(401)
    res.resume()
    expect(b.state.handshakes).toBe(0)
    const ws = new WebSocket(`ws://${HOST}:${g.port}/chat`, { headers: { authorization: 'Bearer ok' } })
    cleanups.push(() => ws.terminate())
    await once(ws, 'open')
    ws.close()
    await waitUntil(() => logs.length === 2)
    expect(logs.sort()).toEqual([101, 401])
  })

  it('keeps a sticky client on its backend and issues the cookie on the 101', async () => {
    const a = await echoBackend()
    const b = await echoBackend()
    const g = await gateway([a.url, b.url], { sticky: { cookie: 'srv' } })
    const first = client(g.port)
    const opened = once(first, 'open')
    const [upgrade] = (await once(first, 'upgrade')) as [http.IncomingMessage]
    const cookie = String(upgrade.headers['set-cookie']).split(';')[0]!
    expect(cookie).toMatch(/^srv=/)
    await opened
    g.lb.drain(g.lb.backends()[0]!.id)
    const again = new WebSocket(`ws://${HOST}:${g.port}/chat`, { headers: { cookie } })
    cleanups.push(() => again.terminate())
    await once(again, 'open')
    expect(a.state.handshakes).toBe(2)
    expect(b.state.handshakes).toBe(0)
  })

  it('with websocket: false, an upgrade request is served as a plain request', async () => {
    const b = await echoBackend()
    const g = await gateway([b.url], { websocket: false })
    const ws = client(g.port)
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage]
    expect(res.statusCode).toBe(200)
    let body = ''
    for await (const chunk of res) body += chunk
    expect(body).toBe('plain')
    expect(b.state.handshakes).toBe(0)
  })
})

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition')
    await new Promise((r) => setTimeout(r, 5))
  }
}

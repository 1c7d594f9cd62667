/**
 * Integration: fault injection driven through the real TCP proxy (`createTcpProxy(lb, { faults })`)
 * over loopback sockets — each toxic measurably applied, scoped per backend and per direction, and
 * switched at run time on live connections.
 */
import net, { type AddressInfo, type Server, type Socket } from 'node:net'
import { type Backend, createBalancer } from '@fulcrum/core'
import { roundRobin } from '@fulcrum/strategies'
import {
  bandwidth,
  blackhole,
  type ConnectionCloseEvent,
  createTcpProxy,
  Faults,
  latency,
  resetAfter,
  slowClose,
  type TcpContext,
  type TcpProxy,
} from '@fulcrum/tcp-proxy'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

const HOST = '127.0.0.1'
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
/** Per test (client sockets). */
const cleanup: (() => Promise<void> | void)[] = []
/** Per file (backend servers). */
const servers: (() => Promise<void>)[] = []

async function echoServer(): Promise<{ port: number; accepted: () => number }> {
  let accepted = 0
  const sockets = new Set<Socket>()
  const server: Server = net.createServer({ noDelay: true }, (s) => {
    accepted++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    s.pipe(s)
  })
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve))
  servers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  )
  return { port: (server.address() as AddressInfo).port, accepted: () => accepted }
}

interface Client {
  readonly socket: Socket
  /** The client's local port (the proxy's `ctx.remotePort`). */
  readonly port: number
  readonly state: { bytes: number; ended: boolean; closed: boolean; error: string | undefined }
  /** The backend the proxy relayed this connection to. */
  backend(): Backend | undefined
  waitFor(n: number, timeoutMs?: number): Promise<boolean>
  rtt(size?: number): Promise<number>
}

let proxy: TcpProxy
let proxyPort: number
const faults = new Faults()
const opened = new Map<number, { backend: Backend; blackholed: boolean }>()
const closes: ConnectionCloseEvent[] = []
let echoA: Awaited<ReturnType<typeof echoServer>>
let echoB: Awaited<ReturnType<typeof echoServer>>

async function connect(): Promise<Client> {
  const socket = net.connect({ host: HOST, port: proxyPort, noDelay: true })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const state = { bytes: 0, ended: false, closed: false, error: undefined as string | undefined }
  socket.on('data', (c: Buffer) => {
    state.bytes += c.length
  })
  socket.on('end', () => {
    state.ended = true
  })
  socket.on('error', (e: NodeJS.ErrnoException) => {
    state.error = e.code
  })
  socket.on('close', () => {
    state.closed = true
  })
  cleanup.push(() => {
    socket.destroy()
  })
  const waitFor = async (n: number, timeoutMs = 5_000) => {
    const deadline = performance.now() + timeoutMs
    while (state.bytes < n && !state.closed && performance.now() < deadline) await sleep(2)
    return state.bytes >= n
  }
  const localPort = socket.localPort!
  // Wait until the proxy has opened the connection (picked and connected, or blackholed).
  for (let i = 0; i < 500 && !opened.has(localPort); i++) await sleep(2)
  return {
    socket,
    port: localPort,
    state,
    backend: () => opened.get(localPort)?.backend,
    waitFor,
    rtt: async (size = 16) => {
      const target = state.bytes + size
      const t0 = performance.now()
      socket.write(Buffer.alloc(size, 0x61))
      if (!(await waitFor(target))) throw new Error('no echo')
      return performance.now() - t0
    },
  }
}

/** Opens connections until one lands on backend `id` (round robin: at most two). */
async function connectTo(id: string): Promise<Client> {
  for (let i = 0; i < 4; i++) {
    const c = await connect()
    if (c.backend()?.id === id) return c
    c.socket.destroy()
  }
  throw new Error(`no connection reached ${id}`)
}

beforeAll(async () => {
  echoA = await echoServer()
  echoB = await echoServer()
  const lb = createBalancer<TcpContext>()
    .backends([
      { id: 'a', host: HOST, port: echoA.port },
      { id: 'b', host: HOST, port: echoB.port },
    ])
    .strategy(roundRobin())
    .build()
  proxy = createTcpProxy(lb, { faults, connectTimeoutMs: 1_000 })
  proxyPort = (await proxy.listen({ port: 0, host: HOST })).port
  proxy.on('connection:open', (e) =>
    opened.set(e.ctx.remotePort, { backend: e.backend, blackholed: e.blackholed }),
  )
  proxy.on('connection:close', (e) => closes.push(e))
})

afterEach(async () => {
  faults.clear()
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

afterAll(async () => {
  await proxy.close()
  for (const fn of servers) await fn()
})

describe('fault injection through createTcpProxy', () => {
  it('latency: a downstream toxic adds ≥ ms once to a round trip, and its removal reaches the live connection', async () => {
    const id = faults.add(latency({ ms: 100 }), { direction: 'downstream' })
    const c = await connect()
    const slow = [await c.rtt(), await c.rtt()]
    faults.remove(id)
    const fast = await c.rtt()
    console.info(
      `proxy latency 100 ms downstream — RTT ${slow.map((x) => x.toFixed(0))} ms; removed ${fast.toFixed(1)} ms`,
    )
    for (const x of slow) {
      expect(x).toBeGreaterThanOrEqual(100)
      expect(x).toBeLessThan(180)
    }
    expect(fast).toBeLessThan(50)
  })

  it('latency scoped to one backend leaves the other alone', async () => {
    faults.add(latency({ ms: 100 }), { backend: 'a' }) // both directions
    const a = await connectTo('a')
    const b = await connectTo('b')
    const ra = await a.rtt()
    const rb = await b.rtt()
    console.info(`proxy scoping — backend a ${ra.toFixed(1)} ms, backend b ${rb.toFixed(1)} ms`)
    expect(ra).toBeGreaterThanOrEqual(200)
    expect(rb).toBeLessThan(50)
  })

  it('bandwidth: 512 KiB at 512 KiB/s downstream takes ≈ 1 s', async () => {
    faults.add(bandwidth({ bytesPerSecond: 512 * 1024 }), { direction: 'downstream' })
    const c = await connect()
    const size = 512 * 1024
    const t0 = performance.now()
    c.socket.write(Buffer.alloc(size, 0x62))
    expect(await c.waitFor(size, 5_000)).toBe(true)
    const seconds = (performance.now() - t0) / 1000
    console.info(`proxy bandwidth 512 KiB/s — 512 KiB in ${seconds.toFixed(2)} s`)
    expect(seconds).toBeGreaterThanOrEqual(0.8)
    expect(seconds).toBeLessThanOrEqual(1.6)
  })

  it('resetAfter: the client gets exactly N bytes, then ECONNRESET; the close reason is fault', async () => {
    faults.add(resetAfter({ bytes: 1000, delayMs: 20 }), { direction: 'downstream' })
    const c = await connect()
    c.socket.write(Buffer.alloc(5000, 0x63))
    await c.waitFor(5000, 1_000)
    for (let i = 0; i < 100 && !c.state.closed; i++) await sleep(5)
    expect(c.state.bytes).toBe(1000)
    expect(c.state.error).toBe('ECONNRESET')
    const port = c.port
    for (let i = 0; i < 100 && !closes.some((e) => e.ctx.remotePort === port); i++) await sleep(5)
    const close = closes.find((e) => e.ctx.remotePort === port)
    expect(close?.reason).toBe('fault')
    expect(close?.bytesOut).toBe(1000)
  })

  it('blackhole for one backend: accepted, never answered, never connected; the other backend works', async () => {
    faults.add(blackhole(), { backend: 'b' })
    const before = echoB.accepted()
    const seen: Client[] = []
    for (let i = 0; i < 2; i++) seen.push(await connect())
    const held = seen.find((c) => c.backend()?.id === 'b')!
    const fine = seen.find((c) => c.backend()?.id === 'a')!
    expect(opened.get(held.port)?.blackholed).toBe(true)
    held.socket.write('anyone?')
    expect(await fine.rtt()).toBeLessThan(50)
    await sleep(200)
    expect(held.state.bytes).toBe(0)
    expect(held.state.closed).toBe(false)
    expect(echoB.accepted()).toBe(before)
  })

  it('slowClose: the backend FIN reaches the client ms later', async () => {
    const timeClose = async () => {
      const c = await connect()
      const t0 = performance.now()
      c.socket.end() // the echo backend ends when it sees the FIN
      for (let i = 0; i < 200 && !c.state.ended; i++) await sleep(2)
      return performance.now() - t0
    }
    const base = await timeClose()
    faults.add(slowClose({ ms: 200 }), { direction: 'downstream' })
    const slow = await timeClose()
    console.info(
      `proxy slowClose 200 ms downstream — end after ${base.toFixed(1)} ms → ${slow.toFixed(1)} ms`,
    )
    expect(base).toBeLessThan(50)
    expect(slow).toBeGreaterThanOrEqual(200)
    expect(slow).toBeLessThan(320)
  })

  it('a connection opened without toxics is not wrapped (the proxy pays nothing) and new ones see new toxics', async () => {
    const plain = await connect()
    faults.add(latency({ ms: 100 }), { direction: 'upstream' })
    const wrapped = await connect()
    expect(await plain.rtt()).toBeLessThan(50)
    expect(await wrapped.rtt()).toBeGreaterThanOrEqual(100)
    // Only the wrapped connection's upstream direction holds a fault stream (earlier tests' are gone).
    for (let i = 0; i < 100 && faults.liveStreams !== 1; i++) await sleep(5)
    expect(faults.liveStreams).toBe(1)
  })
})

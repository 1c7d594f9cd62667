/**
 * Each toxic measured over real loopback sockets: client → a minimal relay that uses the fault hooks
 * the way the proxy does → an echo (or sink) backend on 127.0.0.1, with real time.
 */
import net, { type AddressInfo, type Server, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { type Backend, createBalancer } from '@fulcrum/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Direction } from '../types.js'
import { bandwidth } from './bandwidth.js'
import { blackhole } from './blackhole.js'
import { isFaultReset } from './fault-reset-error.js'
import { Faults } from './faults.js'
import { latency } from './latency.js'
import { resetAfter } from './reset-after.js'
import { slowClose } from './slow-close.js'

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const closers: (() => Promise<void>)[] = []

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
  })
}

/** Tracks a server's sockets so the test can close everything. */
function track(server: Server): Set<Socket> {
  const sockets = new Set<Socket>()
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  closers.push(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return sockets
}

/** An echo server; counts the connections it accepted. */
async function echoServer() {
  const stats = { connections: 0 }
  const server = net.createServer({ noDelay: true }, (s) => {
    stats.connections++
    s.on('error', () => {})
    s.pipe(s)
  })
  track(server)
  return { port: await listen(server), stats }
}

/** A server that only counts what it receives and how each connection ended. */
async function sinkServer() {
  const got = { bytes: 0, error: undefined as string | undefined, closed: false }
  const server = net.createServer((s) => {
    s.on('data', (c: Buffer) => {
      got.bytes += c.length
    })
    s.on('error', (err: NodeJS.ErrnoException) => {
      got.error = err.code
    })
    s.on('close', () => {
      got.closed = true
    })
  })
  track(server)
  return { port: await listen(server), got }
}

/**
 * The minimal relay: what the proxy does with the hooks. A blackholed connection is accepted and
 * never answered; otherwise each direction is `source.pipe(wrap).pipe(destination)`, a fault reset
 * resets both sockets, and a FIN is forwarded after `closeDelayMs()`.
 */
async function relay(faults: Faults, backend: Backend): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    client.on('error', () => {})
    if (faults.blackhole(undefined) || faults.blackhole(backend)) return
    const upstream = net.connect({
      host: backend.host,
      port: backend.port,
      allowHalfOpen: true,
      noDelay: true,
    })
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
    const wraps: Duplex[] = []
    const reset = () => {
      client.resetAndDestroy()
      upstream.resetAndDestroy()
    }
    const forward = (src: Socket, dst: Socket, wrap: Duplex | undefined, direction: Direction) => {
      let out: Duplex = src
      if (wrap !== undefined) {
        wraps.push(wrap)
        wrap.on('error', (err) => {
          if (isFaultReset(err)) return reset()
          client.destroy()
          upstream.destroy()
        })
        out = src.pipe(wrap)
      }
      out.pipe(dst, { end: false })
      out.once('end', () => {
        const ms = faults.closeDelayMs(direction, backend)
        if (ms > 0) setTimeout(() => dst.end(), ms)
        else dst.end()
      })
    }
    forward(client, upstream, faults.wrap('upstream', backend), 'upstream')
    forward(upstream, client, faults.wrap('downstream', backend), 'downstream')
    const teardown = () => {
      for (const w of wraps) w.destroy()
    }
    client.once('close', teardown)
    upstream.once('close', teardown)
  })
  track(server)
  return listen(server)
}

/** A client connection that counts what it receives. */
async function client(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const state = {
    socket,
    bytes: 0,
    ended: false,
    closed: false,
    error: undefined as string | undefined,
    samples: [] as { at: number; bytes: number }[],
  }
  let wake: (() => void) | undefined
  socket.on('data', (c: Buffer) => {
    state.bytes += c.length
    state.samples.push({ at: performance.now(), bytes: state.bytes })
    wake?.()
  })
  socket.on('end', () => {
    state.ended = true
    wake?.()
  })
  socket.on('error', (err: NodeJS.ErrnoException) => {
    state.error = err.code
  })
  socket.on('close', () => {
    state.closed = true
    wake?.()
  })
  closers.push(async () => {
    socket.destroy()
  })
  /** Resolves once `n` bytes in total have arrived (or the socket closed, or after `timeoutMs`). */
  const waitFor = async (n: number, timeoutMs = 5_000): Promise<boolean> => {
    const deadline = performance.now() + timeoutMs
    while (state.bytes < n && !state.closed && performance.now() < deadline) {
      await new Promise<void>((resolve) => {
        wake = resolve
        setTimeout(resolve, 20)
      })
    }
    return state.bytes >= n
  }
  /** One round trip through the echo backend, in ms. */
  const rtt = async (size = 16): Promise<number> => {
    const target = state.bytes + size
    const t0 = performance.now()
    socket.write(Buffer.alloc(size, 0x61))
    if (!(await waitFor(target))) throw new Error('echo did not come back')
    return performance.now() - t0
  }
  return { state, waitFor, rtt }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function rtts(c: { rtt: () => Promise<number> }, n = 3): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(await c.rtt())
  return out
}

let A: Backend
let B: Backend
let SINK: Backend
let sink: Awaited<ReturnType<typeof sinkServer>>
let echoA: Awaited<ReturnType<typeof echoServer>>

beforeAll(async () => {
  echoA = await echoServer()
  const echoB = await echoServer()
  sink = await sinkServer()
  const lb = createBalancer()
    .backends([
      { id: 'a', host: '127.0.0.1', port: echoA.port },
      { id: 'b', host: '127.0.0.1', port: echoB.port },
      { id: 'sink', host: '127.0.0.1', port: sink.port },
    ])
    .build()
  A = lb.get('a')!
  B = lb.get('b')!
  SINK = lb.get('sink')!
})

afterAll(async () => {
  for (const close of closers.reverse()) await close()
})

describe('toxics over loopback sockets', () => {
  it('latency adds ≥ ms to a round trip, once per delayed direction', async () => {
    const faults = new Faults()
    const port = await relay(faults, A)
    const base = median(await rtts(await client(port)))
    faults.add(latency({ ms: 100 }), { direction: 'upstream', name: 'l' })
    const up = await rtts(await client(port))
    faults.add(latency({ ms: 100 }), { direction: 'downstream', name: 'l' })
    const down = await rtts(await client(port))
    faults.add(latency({ ms: 100 }), { name: 'l' }) // both directions
    const both = await rtts(await client(port))
    console.info(
      `latency 100 ms — baseline RTT ${base.toFixed(1)} ms; upstream ${up.map((x) => x.toFixed(0))}; ` +
        `downstream ${down.map((x) => x.toFixed(0))}; both ${both.map((x) => x.toFixed(0))}`,
    )
    expect(base).toBeLessThan(50)
    for (const x of [...up, ...down]) expect(x).toBeGreaterThanOrEqual(100)
    expect(median(up)).toBeLessThan(180)
    expect(median(down)).toBeLessThan(180)
    for (const x of both) expect(x).toBeGreaterThanOrEqual(200)
    expect(median(both)).toBeLessThan(280)
  })

  it('bandwidth: 1 MiB at 512 KiB/s takes ≈ 2 s and never runs ahead by more than a burst', async () => {
    const faults = new Faults()
    const rate = 512 * 1024
    faults.add(bandwidth({ bytesPerSecond: rate }), { direction: 'downstream' })
    const c = await client(await relay(faults, A))
    const size = 1024 * 1024
    const t0 = performance.now()
    c.state.socket.write(Buffer.alloc(size, 0x62))
    expect(await c.waitFor(size, 6_000)).toBe(true)
    const seconds = (performance.now() - t0) / 1000
    // Bytes received by time t after the first byte ≤ burst + rate × t (+ one piece of slack for
    // the delivery jitter of the two samples).
    const first = c.state.samples[0]!
    let excess = Number.NEGATIVE_INFINITY
    for (const s of c.state.samples) {
      excess = Math.max(excess, s.bytes - first.bytes - (rate * (s.at - first.at)) / 1000)
    }
    console.info(
      `bandwidth 512 KiB/s — 1 MiB in ${seconds.toFixed(2)} s (${(size / seconds / 1024).toFixed(0)} KiB/s), ` +
        `max ahead of the rate ${(excess / 1024).toFixed(1)} KiB`,
    )
    expect(seconds).toBeGreaterThanOrEqual(1.7)
    expect(seconds).toBeLessThanOrEqual(3)
    expect(excess).toBeLessThanOrEqual(2 * 16 * 1024)
  })

  it('resetAfter downstream: the client gets exactly N bytes, then ECONNRESET', async () => {
    const faults = new Faults()
    // 20 ms between the last byte and the RST, so the client reads them in separate turns and
    // reports ECONNRESET rather than a clean end (see ResetAfterOptions.delayMs).
    faults.add(resetAfter({ bytes: 1000, delayMs: 20 }), { direction: 'downstream' })
    const c = await client(await relay(faults, A))
    c.state.socket.write(Buffer.alloc(5000, 0x63))
    await c.waitFor(5000, 1_000)
    console.info(
      `resetAfter 1000 downstream — client got ${c.state.bytes} bytes, then ${c.state.error ?? 'close'}`,
    )
    expect(c.state.bytes).toBe(1000)
    expect(c.state.closed).toBe(true)
    expect(c.state.error).toBe('ECONNRESET')
  })

  it('resetAfter upstream: the backend gets exactly N bytes, then the connection is reset', async () => {
    const faults = new Faults()
    faults.add(resetAfter({ bytes: 3000 }), { direction: 'upstream' })
    const c = await client(await relay(faults, SINK))
    for (let i = 0; i < 10; i++) c.state.socket.write(Buffer.alloc(1000, 0x64))
    for (let i = 0; i < 50 && !sink.got.closed; i++) await sleep(10)
    console.info(
      `resetAfter 3000 upstream — backend got ${sink.got.bytes} bytes, then ${sink.got.error ?? 'close'}`,
    )
    expect(sink.got.bytes).toBe(3000)
    expect(sink.got.closed).toBe(true)
    // With no delay the RST may arrive with the last bytes: ECONNRESET, or a close without error.
    expect([undefined, 'ECONNRESET']).toContain(sink.got.error)
    await c.waitFor(1, 500)
    expect(c.state.closed).toBe(true)
  })

  it('resetAfter added to a live connection counts bytes from when it was added', async () => {
    const faults = new Faults({ wrapAlways: true })
    const c = await client(await relay(faults, A))
    c.state.socket.write(Buffer.alloc(500))
    expect(await c.waitFor(500)).toBe(true)
    faults.add(resetAfter({ bytes: 100 }), { direction: 'downstream' })
    c.state.socket.write(Buffer.alloc(500))
    await c.waitFor(1000, 1_000)
    expect(c.state.bytes).toBe(600)
    expect(c.state.closed).toBe(true)
    expect([undefined, 'ECONNRESET']).toContain(c.state.error)
  })

  it('blackhole: accepted and never answered, per backend or proxy-wide, via the hook', async () => {
    const faults = new Faults()
    const id = faults.add(blackhole(), { backend: 'a' })
    expect(faults.blackhole(A)).toBe(true)
    expect(faults.blackhole(B)).toBe(false)
    expect(faults.blackhole(undefined)).toBe(false)
    const before = echoA.stats.connections
    const held = await client(await relay(faults, A))
    const fine = await client(await relay(faults, B))
    held.state.socket.write('hello?')
    expect(await fine.rtt()).toBeLessThan(50)
    await sleep(250)
    expect(held.state.bytes).toBe(0)
    expect(held.state.closed).toBe(false) // accepted, open, silent
    expect(echoA.stats.connections).toBe(before) // never forwarded
    faults.remove(id)
    faults.add(blackhole())
    expect(faults.blackhole(undefined)).toBe(true)
    expect(faults.blackhole(B)).toBe(true)
  })

  it('a one-way blackhole silences a live connection until removed', async () => {
    const faults = new Faults({ wrapAlways: true })
    const c = await client(await relay(faults, A))
    expect(await c.rtt()).toBeLessThan(50)
    const id = faults.add(blackhole(), { direction: 'upstream' })
    c.state.socket.write('dropped')
    await sleep(150)
    expect(c.state.bytes).toBe(16)
    faults.remove(id)
    expect(await c.rtt()).toBeLessThan(50)
    expect(c.state.bytes).toBe(32) // the dropped bytes never came back
  })

  it('slowClose: the FIN is forwarded after ms (closeDelayMs)', async () => {
    const faults = new Faults()
    const port = await relay(faults, A)
    const timeClose = async () => {
      const c = await client(port)
      const t0 = performance.now()
      c.state.socket.end()
      for (let i = 0; i < 100 && !c.state.ended; i++) await sleep(5)
      return performance.now() - t0
    }
    const base = await timeClose()
    faults.add(slowClose({ ms: 200 }), { direction: 'upstream' })
    expect(faults.closeDelayMs('upstream', A)).toBe(200)
    expect(faults.closeDelayMs('downstream', A)).toBe(0)
    const slow = await timeClose()
    console.info(`slowClose 200 ms upstream — close round trip ${base.toFixed(1)} ms → ${slow.toFixed(1)} ms`)
    expect(base).toBeLessThan(50)
    expect(slow).toBeGreaterThanOrEqual(200)
    expect(slow).toBeLessThan(300)
  })

  it('runtime switching: add/remove reaches the next chunk of a wrapped live connection and the next connection', async () => {
    const faults = new Faults()
    const port = await relay(faults, A)
    const plain = await client(port) // opened without toxics: not wrapped
    const id = faults.add(latency({ ms: 100 }), { direction: 'upstream' })
    const wrapped = await client(port) // opened with a toxic: wrapped
    expect(await wrapped.rtt()).toBeGreaterThanOrEqual(100)
    expect(await plain.rtt()).toBeLessThan(50) // unwrapped connections are unaffected (documented)
    faults.remove(id)
    const afterRemove = await wrapped.rtt()
    faults.add(latency({ ms: 150 }), { direction: 'downstream' })
    const afterAdd = await wrapped.rtt() // downstream was not wrapped when this connection opened
    const upAgain = faults.add(latency({ ms: 150 }), { direction: 'upstream' })
    const afterUpstream = await wrapped.rtt()
    faults.remove(upAgain)
    const fresh = await client(port)
    const freshRtt = await fresh.rtt()
    console.info(
      `runtime switching — after remove ${afterRemove.toFixed(1)} ms, downstream added ${afterAdd.toFixed(1)} ms, ` +
        `upstream added ${afterUpstream.toFixed(1)} ms, new connection ${freshRtt.toFixed(1)} ms`,
    )
    expect(afterRemove).toBeLessThan(50)
    expect(afterAdd).toBeLessThan(50)
    expect(afterUpstream).toBeGreaterThanOrEqual(150)
    expect(freshRtt).toBeGreaterThanOrEqual(150)
  })

  it('scoping: a toxic for one backend leaves the others alone', async () => {
    const faults = new Faults()
    faults.add(latency({ ms: 100 }), { backend: 'a' })
    const a = await client(await relay(faults, A))
    const b = await client(await relay(faults, B))
    const ra = await a.rtt()
    const rb = await b.rtt()
    console.info(`scoping — backend a ${ra.toFixed(1)} ms, backend b ${rb.toFixed(1)} ms`)
    expect(ra).toBeGreaterThanOrEqual(200)
    expect(rb).toBeLessThan(50)
    expect(faults.wrap('upstream', B)).toBeUndefined()
  })
})

/**
 * Fault injection through the real proxy (`faults` option): each toxic measurably applied on
 * loopback connections, and switched at run time.
 */
import { once } from 'node:events'
import { createBalancer } from '@fulcrum/core'
import {
  bandwidth,
  blackhole,
  type ConnectionCloseEvent,
  Faults,
  latency,
  resetAfter,
  slowClose,
} from '@fulcrum/tcp-proxy'
import { afterEach, describe, expect, it } from 'vitest'
import { Harness, HOST, received, waitFor } from './tcp-proxy-helpers.js'

const h = new Harness()
afterEach(() => h.closeAll())

async function setup(options: { idleTimeoutMs?: number } = {}) {
  const echo = await h.server((s) => {
    s.pipe(s)
  })
  const lb = createBalancer()
    .backends([{ id: 'echo', host: HOST, port: echo.port }])
    .build()
  const faults = new Faults()
  const { proxy, port } = await h.proxy(lb, { faults, ...options })
  const closed: ConnectionCloseEvent[] = []
  proxy.on('connection:close', (e) => closed.push(e))
  return { echo, lb, faults, proxy, port, closed }
}

/** Round trip of one small message through the proxy, in ms. */
async function roundTrip(port: number): Promise<number> {
  const c = h.client(port)
  await once(c, 'connect')
  const started = performance.now()
  c.write('ping')
  await once(c, 'data')
  const ms = performance.now() - started
  c.destroy()
  return ms
}

describe('tcp proxy fault injection', () => {
  it('latency delays each direction by its ms; removing it restores the round trip', async () => {
    const { faults, port } = await setup()
    expect(await roundTrip(port)).toBeLessThan(50)
    const id = faults.add(latency({ ms: 120 }), { direction: 'downstream' })
    const slow = await roundTrip(port)
    expect(slow).toBeGreaterThanOrEqual(115)
    expect(slow).toBeLessThan(600)
    faults.add(latency({ ms: 80 }), { direction: 'upstream' })
    expect(await roundTrip(port)).toBeGreaterThanOrEqual(195)
    faults.clear()
    expect(faults.remove(id)).toBe(false)
    expect(await roundTrip(port)).toBeLessThan(50)
  })

  it('bandwidth caps the rate', async () => {
    const { faults, port } = await setup()
    faults.add(bandwidth({ bytesPerSecond: 256 * 1024 }), { direction: 'downstream' })
    const c = h.client(port)
    const r = received(c)
    const started = performance.now()
    c.end(Buffer.alloc(256 * 1024, 1))
    const got = await r
    const seconds = (performance.now() - started) / 1000
    expect(got.data.length).toBe(256 * 1024)
    // One second at 256 KiB/s, minus the initial burst.
    expect(seconds).toBeGreaterThan(0.6)
    expect(seconds).toBeLessThan(3)
  })

  it('resetAfter: the client gets exactly the budget, then a reset; booked as a reset', async () => {
    const { faults, lb, port, closed } = await setup()
    // delayMs: the RST must not reach the client in the same read as the last bytes (libuv would
    // report that as a clean end).
    faults.add(resetAfter({ bytes: 10_000, delayMs: 20 }), { direction: 'downstream' })
    const c = h.client(port)
    const r = received(c)
    c.write(Buffer.alloc(50_000, 1))
    const got = await r
    expect(got.data.length).toBe(10_000)
    expect(got.error).toBe('ECONNRESET')
    await waitFor(() => closed.length === 1)
    expect(closed[0]).toMatchObject({ reason: 'fault', bytesOut: 10_000 })
    expect(lb.get('echo')!.counters).toMatchObject({ failures: 1, lastFailure: 'reset' })
    expect(lb.get('echo')!.inflight).toBe(0)
  })

  it('blackhole: accepted, never answered, never connected; closed by the idle timeout', async () => {
    const { faults, echo, port, closed, lb } = await setup({ idleTimeoutMs: 200 })
    faults.add(blackhole())
    const c = h.client(port)
    const r = received(c)
    await once(c, 'connect')
    c.write('anyone?')
    await waitFor(() => lb.get('echo')!.inflight === 1)
    const got = await r
    expect(got.data.length).toBe(0)
    expect(echo.accepted).toBe(0)
    await waitFor(() => closed.length === 1)
    expect(closed[0]).toMatchObject({ reason: 'idle', bytesIn: 0, bytesOut: 0 })
    expect(lb.get('echo')!.counters).toMatchObject({ failures: 1, lastFailure: 'timeout' })
  })

  it('slowClose holds the FIN for its ms (data is not delayed)', async () => {
    const { faults, port } = await setup()
    faults.add(slowClose({ ms: 250 }), { direction: 'upstream' })
    const c = h.client(port)
    await once(c, 'connect')
    const started = performance.now()
    const r = received(c)
    c.end('bye')
    const [chunk] = (await once(c, 'data')) as [Buffer]
    expect(chunk.toString()).toBe('bye')
    expect(performance.now() - started).toBeLessThan(100)
    await r
    expect(performance.now() - started).toBeGreaterThanOrEqual(245)
  })
})

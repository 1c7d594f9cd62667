/**
 * Connection and proxy lifecycle: idle timeout, graceful drain, exact counters, and nothing
 * leaked (sockets, in-flight counts) whichever way connections end.
 */
import { once } from 'node:events'
import net from 'node:net'
import { createBalancer } from '@fulcrum/core'
import { type ConnectionCloseEvent, createTcpProxy } from '@fulcrum/tcp-proxy'
import { afterEach, describe, expect, it } from 'vitest'
import { Harness, HOST, noConnections, received, sleep, waitFor } from './tcp-proxy-helpers.js'

const h = new Harness()
afterEach(() => h.closeAll())

function balancerFor(...ports: number[]) {
  return createBalancer()
    .backends(ports.map((port, i) => ({ id: `b${i}`, host: HOST, port })))
    .build()
}

describe('tcp proxy lifecycle', () => {
  it('idle timeout: both sides are closed when no byte flows for idleTimeoutMs', async () => {
    let backendClosed = false
    const backend = await h.server((s) => {
      s.on('data', (c: Buffer) => s.write(c))
      s.on('end', () => s.end())
      s.on('close', () => {
        backendClosed = true
      })
    })
    const lb = balancerFor(backend.port)
    const { proxy, port } = await h.proxy(lb, { idleTimeoutMs: 150 })
    const closed: ConnectionCloseEvent[] = []
    proxy.on('connection:close', (e) => closed.push(e))
    const client = h.client(port)
    const result = received(client)
    // Traffic every 50 ms keeps it open past the timeout.
    let lastWrite = 0
    for (let i = 0; i < 5; i++) {
      client.write('tick')
      lastWrite = performance.now()
      await sleep(50)
    }
    expect(closed).toHaveLength(0)
    const r = await result
    // The idle timer is re-armed when the last bytes pass, after `lastWrite` was stamped.
    const quiet = performance.now() - lastWrite
    expect(quiet).toBeGreaterThanOrEqual(99)
    expect(quiet).toBeLessThan(1_000)
    expect(r.data.toString()).toBe('tick'.repeat(5))
    await waitFor(() => backendClosed && closed.length === 1)
    expect(closed[0]).toMatchObject({ reason: 'idle', bytesIn: 20, bytesOut: 20 })
    expect(lb.get('b0')!.counters).toMatchObject({ successes: 1, failures: 0 })
    expect(lb.get('b0')!.inflight).toBe(0)
  })

  it('with idleTimeoutMs 0 (the default) a quiet connection stays open', async () => {
    const backend = await h.echo()
    const { proxy, port } = await h.proxy(balancerFor(backend.port))
    const client = h.client(port)
    await once(client, 'connect')
    await sleep(300)
    expect(proxy.stats().active).toBe(1)
    client.write('still here')
    const [chunk] = (await once(client, 'data')) as [Buffer]
    expect(chunk.toString()).toBe('still here')
  })

  it('close({ graceMs }) stops accepting, lets a transfer that fits finish, and kills one that does not', async () => {
    // The backend sends `total` bytes in 64 KiB steps every `stepMs`, then ends.
    const slow = (total: number, stepMs: number) =>
      h.server((s) => {
        let sent = 0
        const timer = setInterval(() => {
          const n = Math.min(65_536, total - sent)
          sent += n
          s.write(Buffer.alloc(n, 1))
          if (sent >= total) {
            clearInterval(timer)
            s.end()
          }
        }, stepMs)
        s.on('close', () => clearInterval(timer))
      })
    const quick = await slow(65_536 * 5, 20) // ~100 ms
    const long = await slow(65_536 * 1_000, 20) // ~20 s
    const lb = createBalancer()
      .backends([
        { id: 'quick', host: HOST, port: quick.port },
        { id: 'long', host: HOST, port: long.port },
      ])
      .build()
    lb.disable('long')
    const proxy = createTcpProxy(lb)
    const port = await h.listen(proxy)
    const closed: ConnectionCloseEvent[] = []
    proxy.on('connection:close', (e) => closed.push(e))
    const a = received(h.client(port))
    await waitFor(() => lb.get('quick')!.inflight === 1)
    lb.enable('long')
    lb.disable('quick')
    const b = received(h.client(port))
    await waitFor(() => lb.get('long')!.inflight === 1)

    const started = Date.now()
    const closing = proxy.close({ graceMs: 400 })
    // New connections are refused at once.
    const refused = net.connect(port, HOST)
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException]
    expect(err.code).toBe('ECONNREFUSED')

    const [ra, rb] = await Promise.all([a, b])
    await closing
    const took = Date.now() - started
    expect(ra.data.length).toBe(65_536 * 5)
    expect(ra.ended).toBe(true)
    expect(rb.data.length).toBeLessThan(65_536 * 1_000)
    expect(took).toBeGreaterThanOrEqual(390)
    expect(took).toBeLessThan(2_000)
    expect(closed.map((e) => `${e.backend?.id}:${e.reason}`).sort()).toEqual(['long:drain', 'quick:end'])
    expect(lb.get('quick')!.counters).toMatchObject({ successes: 1 })
    expect(lb.get('long')!.counters).toMatchObject({ cancelled: 1, failures: 0 })
    expect(lb.backends().map((x) => x.inflight)).toEqual([0, 0])
    expect(proxy.stats().active).toBe(0)
    await expect(proxy.listen(0)).rejects.toMatchObject({ code: 'FULCRUM_ERR_PROXY_CLOSED' })
  })

  it('counters are exact: per connection, per backend and in total', async () => {
    const backend = await h.server((s) => {
      let n = 0
      s.on('data', (c: Buffer) => (n += c.length))
      s.on('end', () => s.end(Buffer.alloc(n * 2, 2))) // answers twice as many bytes
    })
    const lb = balancerFor(backend.port)
    const { proxy, port } = await h.proxy(lb)
    const closed: ConnectionCloseEvent[] = []
    proxy.on('connection:close', (e) => closed.push(e))
    const sizes = [1, 1_000, 100_000, 1_234_567]
    for (const size of sizes) {
      const c = h.client(port)
      const r = received(c)
      c.end(Buffer.alloc(size, 1))
      expect((await r).data.length).toBe(size * 2)
    }
    await waitFor(() => closed.length === sizes.length)
    expect(closed.map((e) => [e.bytesIn, e.bytesOut])).toEqual(sizes.map((n) => [n, n * 2]))
    for (const e of closed) expect(e.durationMs).toBeGreaterThan(0)
    const total = sizes.reduce((a, b) => a + b, 0)
    const stats = proxy.stats()
    expect(stats).toMatchObject({ active: 0, total: 4, errors: 0, bytesIn: total, bytesOut: total * 2 })
    expect(stats.backends.get('b0')).toEqual({
      connections: 4,
      active: 0,
      connectFailures: 0,
      bytesIn: total,
      bytesOut: total * 2,
    })
  })

  it('stats() includes the bytes of open connections', async () => {
    const backend = await h.echo()
    const { proxy, port } = await h.proxy(balancerFor(backend.port))
    const c = h.client(port)
    c.write('12345')
    await once(c, 'data')
    expect(proxy.stats()).toMatchObject({ active: 1, bytesIn: 5, bytesOut: 5 })
    expect(proxy.stats().backends.get('b0')).toMatchObject({ active: 1, bytesIn: 5, bytesOut: 5 })
  })

  it('leaks nothing: 50 connections ending every which way leave no socket and nothing in flight', async () => {
    const backend = await h.server((s) => {
      s.on('data', (c: Buffer) => {
        const cmd = c.toString()
        if (cmd === 'reset') s.resetAndDestroy()
        else if (cmd === 'end') s.end('bye')
        else s.write(c)
      })
      s.on('end', () => s.end())
    })
    const lb = balancerFor(backend.port)
    const { proxy, port } = await h.proxy(lb)
    let closes = 0
    proxy.on('connection:close', () => closes++)
    const pending: Promise<unknown>[] = []
    for (let i = 0; i < 50; i++) {
      const c = h.client(port)
      const r = received(c)
      pending.push(r)
      const way = i % 5
      c.once('connect', () => {
        if (way === 0) c.end('fin')
        else if (way === 1) c.write('end')
        else if (way === 2) c.write('reset')
        else if (way === 3) setTimeout(() => c.resetAndDestroy(), 10)
        else setTimeout(() => c.destroy(), 10)
      })
    }
    await Promise.all(pending)
    await waitFor(() => closes === 50, 5_000, '50 closes')
    expect(proxy.stats().active).toBe(0)
    expect(lb.get('b0')!.inflight).toBe(0)
    await noConnections(proxy.server)
    await noConnections(backend.server)
  })

  it('await using closes the proxy', async () => {
    const backend = await h.echo()
    const lb = balancerFor(backend.port)
    let port = 0
    {
      await using proxy = createTcpProxy(lb)
      port = (await proxy.listen({ port: 0, host: HOST })).port
      const c = h.client(port)
      await once(c, 'connect')
      await waitFor(() => lb.get('b0')!.inflight === 1)
    }
    expect(lb.get('b0')!.inflight).toBe(0)
    const refused = net.connect(port, HOST)
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException]
    expect(err.code).toBe('ECONNREFUSED')
  })

  it('listen() rejects when the port is taken', async () => {
    const taken = await h.server()
    const proxy = createTcpProxy(balancerFor(taken.port))
    await expect(proxy.listen({ port: taken.port, host: HOST })).rejects.toMatchObject({ code: 'EADDRINUSE' })
    await proxy.close()
  })
})

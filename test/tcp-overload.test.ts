/**
 * Admission control through the TCP proxy, with a tiny inline limiter plugin (`admit` + a queue
 * with `waitForCapacity`) against real loopback sockets: a connection over the limit is closed at
 * once with reason `overload`; with a queue it waits, then connects with the bytes it sent while
 * waiting intact; a client that leaves the queue frees its place.
 */
import { createBalancer, OverloadError } from '@fulcrum/core'
import type { ConnectionCloseEvent, ConnectionErrorEvent, TcpContext, TcpProxy } from '@fulcrum/tcp-proxy'
import { afterEach, describe, expect, it } from 'vitest'
import { limiter } from './inline-limiter.js'
import { Harness, HOST, received, waitFor } from './tcp-proxy-helpers.js'

const h = new Harness()
afterEach(() => h.closeAll())

function watch(proxy: TcpProxy) {
  const errors: ConnectionErrorEvent[] = []
  const closes: ConnectionCloseEvent[] = []
  proxy.on('connection:error', (e) => errors.push(e))
  proxy.on('connection:close', (e) => closes.push(e))
  return { errors, closes }
}

describe('tcp proxy overload', () => {
  it('a third connection over a limit of 2 is closed at once with reason overload', async () => {
    const echo = await h.echo()
    const lim = limiter(2)
    const lb = createBalancer<TcpContext>()
      .backends([{ id: 'e', host: HOST, port: echo.port }])
      .use(lim.plugin)
      .build()
    const { proxy, port } = await h.proxy(lb, { retries: 2 })
    const { errors, closes } = watch(proxy)
    const a = h.client(port)
    const b = h.client(port)
    await waitFor(() => echo.accepted === 2)
    const started = Date.now()
    const c = h.client(port)
    c.write('refused?')
    const r = await received(c)
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(r.data.length).toBe(0)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ reason: 'overload', attempts: 0 })
    expect(errors[0]!.error).toBeInstanceOf(OverloadError)
    expect((errors[0]!.error as OverloadError).code).toBe('FULCRUM_ERR_OVERLOAD')
    await waitFor(() => closes.length === 1)
    expect(closes[0]).toMatchObject({ reason: 'overload', backend: undefined, bytesIn: 0 })
    expect(echo.accepted).toBe(2)
    // The two relayed connections still work.
    a.write('ping')
    const back = await new Promise<Buffer>((resolve) => a.once('data', resolve))
    expect(back.toString()).toBe('ping')
    a.end()
    b.end()
    await waitFor(() => lim.active === 0 && proxy.stats().active === 0)
    expect(proxy.stats()).toMatchObject({ total: 3, errors: 1 })
    // The refused connection was booked nowhere.
    expect(lb.backends()[0]!.counters).toMatchObject({ requests: 2, failures: 0 })
  })

  it('a queued connection proceeds when a slot frees, its early bytes intact', async () => {
    const echo = await h.echo()
    const lim = limiter(2, { size: 1, timeoutMs: 5_000 })
    const lb = createBalancer<TcpContext>()
      .backends([{ id: 'e', host: HOST, port: echo.port }])
      .use(lim.plugin)
      .build()
    const { proxy, port } = await h.proxy(lb)
    const { errors, closes } = watch(proxy)
    const a = h.client(port)
    const b = h.client(port)
    await waitFor(() => echo.accepted === 2)
    const c = h.client(port)
    const got = received(c)
    await waitFor(() => lim.waiting === 1, 2_000, 'the third connection queued')
    // Sent while queued, in several writes, then a half-close: all of it must reach the backend.
    const early = Buffer.alloc(256 * 1024)
    for (let i = 0; i < early.length; i++) early[i] = (i * 31) & 0xff
    c.write(early.subarray(0, 1000))
    c.write(early.subarray(1000))
    c.end()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(echo.accepted).toBe(2)
    a.destroy() // frees a slot
    const r = await got
    expect(r.data.equals(early)).toBe(true)
    expect(errors).toEqual([])
    expect(echo.accepted).toBe(3)
    await waitFor(() => closes.length === 2)
    expect(closes.find((e) => e.id === 3)).toMatchObject({ reason: 'end', bytesIn: early.length })
    b.destroy()
    await waitFor(() => lim.active === 0 && lim.waiting === 0)
  })

  it('a queued client that sent a few bytes and half-closed stays queued and is relayed', async () => {
    const echo = await h.echo()
    const lim = limiter(1, { size: 1, timeoutMs: 5_000 })
    const lb = createBalancer<TcpContext>()
      .backends([{ id: 'e', host: HOST, port: echo.port }])
      .use(lim.plugin)
      .build()
    const { port } = await h.proxy(lb)
    const a = h.client(port)
    await waitFor(() => echo.accepted === 1)
    const c = h.client(port)
    const got = received(c)
    await waitFor(() => lim.waiting === 1)
    c.end('hello')
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(lim.waiting).toBe(1)
    a.destroy()
    expect((await got).data.toString()).toBe('hello')
    await waitFor(() => lim.active === 0)
  })

  it('a queued connection past the queue timeout is closed with reason overload', async () => {
    const echo = await h.echo()
    const lim = limiter(1, { size: 1, timeoutMs: 150 })
    const lb = createBalancer<TcpContext>()
      .backends([{ id: 'e', host: HOST, port: echo.port }])
      .use(lim.plugin)
      .build()
    const { proxy, port } = await h.proxy(lb)
    const { errors } = watch(proxy)
    h.client(port)
    await waitFor(() => echo.accepted === 1)
    const started = Date.now()
    const r = await received(h.client(port))
    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
    expect(r.data.length).toBe(0)
    expect(errors[0]).toMatchObject({ reason: 'overload', attempts: 0 })
    expect((errors[0]!.error as OverloadError).reason).toBe('queueTimeout')
    expect(lim.waiting).toBe(0)
  })

  it('a client that leaves the queue frees its place; nothing reaches the backend', async () => {
    const echo = await h.echo()
    const lim = limiter(1, { size: 1, timeoutMs: 5_000 })
    const lb = createBalancer<TcpContext>()
      .backends([{ id: 'e', host: HOST, port: echo.port }])
      .use(lim.plugin)
      .build()
    const { proxy, port } = await h.proxy(lb)
    const { errors, closes } = watch(proxy)
    const a = h.client(port)
    await waitFor(() => echo.accepted === 1)
    const gone = h.client(port)
    await waitFor(() => lim.waiting === 1)
    gone.destroy() // a FIN, nothing sent
    await waitFor(() => lim.waiting === 0, 2_000, 'the queue place freed')
    await waitFor(() => closes.length === 1)
    expect(closes[0]).toMatchObject({ reason: 'client-gone', backend: undefined })
    const reset = h.client(port)
    reset.on('error', () => {})
    await waitFor(() => lim.waiting === 1)
    reset.write('bytes, then a reset')
    await new Promise((resolve) => setTimeout(resolve, 20))
    reset.resetAndDestroy()
    await waitFor(() => lim.waiting === 0, 2_000, 'the queue place freed after a reset')
    await waitFor(() => closes.length === 2)
    expect(closes[1]).toMatchObject({ reason: 'client-gone', backend: undefined, bytesIn: 0 })
    expect(errors).toEqual([])
    a.destroy()
    await waitFor(() => lim.active === 0)
    expect(echo.accepted).toBe(1)
    expect(lb.backends()[0]!.inflight).toBe(0)
  })
})

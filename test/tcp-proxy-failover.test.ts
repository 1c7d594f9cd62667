/**
 * Connect failures: failover to a backend not yet tried (refused and timed-out connects), the
 * retry bound, and prompt closing with a `connection:error` when nothing can be reached.
 */
import { once } from 'node:events'
import { createBalancer } from '@fulcrum/core'
import {
  type ConnectionErrorEvent,
  type ConnectionRetryEvent,
  ConnectTimeoutError,
  createTcpProxy,
} from '@fulcrum/tcp-proxy'
import { afterEach, describe, expect, it } from 'vitest'
import { Harness, HOST, inOrder, received, waitFor } from './tcp-proxy-helpers.js'

const h = new Harness()
afterEach(() => h.closeAll())

function watch(proxy: ReturnType<typeof createTcpProxy>) {
  const errors: ConnectionErrorEvent[] = []
  const retries: ConnectionRetryEvent[] = []
  proxy.on('connection:error', (e) => errors.push(e))
  proxy.on('connection:retry', (e) => retries.push(e))
  return { errors, retries }
}

describe('tcp proxy failover', () => {
  it('no backend reachable: the client is closed promptly and connection:error says why', async () => {
    const ports = [await h.closedPort(), await h.closedPort(), await h.closedPort()]
    const lb = createBalancer()
      .backends(ports.map((port, i) => ({ id: `dead${i}`, host: HOST, port })))
      .build()
    const { proxy, port } = await h.proxy(lb)
    const { errors, retries } = watch(proxy)
    const started = Date.now()
    const client = h.client(port)
    client.write('hello?')
    const r = await received(client)
    const elapsed = Date.now() - started
    expect(elapsed).toBeLessThan(1_000)
    expect(r.data.length).toBe(0)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ reason: 'connect-failed', attempts: 3 })
    expect((errors[0]!.error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED')
    expect(retries.map((e) => e.attempt)).toEqual([1, 2])
    // Each backend tried once, booked as a connect failure, nothing left in flight.
    for (const b of lb.backends()) {
      expect(b.inflight).toBe(0)
      expect(b.counters).toMatchObject({ requests: 1, failures: 1, lastFailure: 'connect' })
    }
    await waitFor(() => proxy.stats().active === 0)
    expect(proxy.stats()).toMatchObject({ active: 0, total: 1, errors: 1 })
  })

  it('an empty or fully disabled pool: reason no-backend, without any attempt', async () => {
    const echo = await h.echo()
    const lb = createBalancer()
      .backends([{ id: 'e', host: HOST, port: echo.port }])
      .build()
    lb.disable('e')
    const { proxy, port } = await h.proxy(lb)
    const { errors } = watch(proxy)
    const r = await received(h.client(port))
    expect(r.data.length).toBe(0)
    expect(errors[0]).toMatchObject({ reason: 'no-backend', attempts: 0 })
    expect((errors[0]!.error as { code: string }).code).toBe('FULCRUM_ERR_NO_BACKEND')
  })

  it('a refused connect fails over to a backend not yet tried', async () => {
    const echo = await h.echo()
    const lb = createBalancer()
      .backends([
        { id: 'dead', host: HOST, port: await h.closedPort() },
        { id: 'echo', host: HOST, port: echo.port },
      ])
      .strategy(inOrder)
      .build()
    const { proxy, port } = await h.proxy(lb)
    const { errors, retries } = watch(proxy)
    const client = h.client(port)
    const result = received(client)
    client.end('ping')
    expect((await result).data.toString()).toBe('ping')
    expect(errors).toHaveLength(0)
    expect(retries).toHaveLength(1)
    expect(retries[0]!.backend.id).toBe('dead')
    expect(retries[0]!.next.id).toBe('echo')
    expect(lb.get('dead')!.counters.lastFailure).toBe('connect')
    expect(proxy.stats().backends.get('dead')).toMatchObject({ connectFailures: 1, connections: 0 })
    expect(proxy.stats().backends.get('echo')).toMatchObject({ connectFailures: 0, connections: 1 })
  })

  it('a connect timeout (a backend that never completes the handshake) fails over', async () => {
    const echo = await h.echo()
    const lb = createBalancer()
      .backends([
        { id: 'hanging', host: HOST, port: await h.hangingPort() },
        { id: 'echo', host: HOST, port: echo.port },
      ])
      .strategy(inOrder)
      .build()
    const { proxy, port } = await h.proxy(lb, { connectTimeoutMs: 150 })
    const { retries } = watch(proxy)
    const started = Date.now()
    const client = h.client(port)
    const result = received(client)
    client.end('after a timeout')
    expect((await result).data.toString()).toBe('after a timeout')
    const elapsed = Date.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(140)
    expect(elapsed).toBeLessThan(1_500)
    expect(retries).toHaveLength(1)
    expect(retries[0]!.error).toBeInstanceOf(ConnectTimeoutError)
    expect((retries[0]!.error as ConnectTimeoutError).code).toBe('FULCRUM_ERR_CONNECT_TIMEOUT')
    expect(lb.get('hanging')!.counters).toMatchObject({ failures: 1, lastFailure: 'connect' })
    expect(lb.get('hanging')!.inflight).toBe(0)
  })

  it('retries are bounded by the option and by the pool (a backend is never tried twice)', async () => {
    const dead = [await h.closedPort(), await h.closedPort(), await h.closedPort(), await h.closedPort()]
    const lb = createBalancer()
      .backends(dead.map((port, i) => ({ id: `d${i}`, host: HOST, port })))
      .build()
    const one = createTcpProxy(lb, { retries: 1 })
    const onePort = await h.listen(one)
    const w1 = watch(one)
    await received(h.client(onePort))
    expect(w1.errors[0]).toMatchObject({ reason: 'connect-failed', attempts: 2 })

    const many = createTcpProxy(lb, { retries: 10 })
    const manyPort = await h.listen(many)
    const w2 = watch(many)
    await received(h.client(manyPort))
    expect(w2.errors[0]).toMatchObject({ reason: 'connect-failed', attempts: 4 })
    expect(new Set(w2.retries.map((e) => e.backend.id)).size).toBe(3)
  })

  it('a client reset while the proxy connects cancels the attempt (not held against the backend)', async () => {
    const lb = createBalancer()
      .backends([{ id: 'hanging', host: HOST, port: await h.hangingPort() }])
      .build()
    const { proxy, port } = await h.proxy(lb, { connectTimeoutMs: 5_000 })
    const reasons: string[] = []
    proxy.on('connection:close', (e) => reasons.push(e.reason))
    const client = h.client(port)
    await once(client, 'connect')
    await waitFor(() => lb.get('hanging')!.inflight === 1)
    // (A FIN here is a half-close, forwarded once connected; a reset means the client is gone.)
    client.resetAndDestroy()
    await waitFor(() => reasons.length === 1)
    expect(reasons).toEqual(['client-gone'])
    expect(lb.get('hanging')!.inflight).toBe(0)
    expect(lb.get('hanging')!.counters).toMatchObject({ cancelled: 1, failures: 0 })
  })
})

/**
 * Per-connection balancing: the lease is held for the connection's life, so strategies see open
 * connections; the default key is the client's IP.
 */
import { once } from 'node:events'
import type net from 'node:net'
import { createBalancer } from '@fulcrum/core'
import { leastConnections, ringHash, roundRobin } from '@fulcrum/strategies'
import { afterEach, describe, expect, it } from 'vitest'
import { Harness, HOST, received, waitFor } from './tcp-proxy-helpers.js'

const h = new Harness()
afterEach(() => h.closeAll())

/** Three servers that answer each connection with their name. */
async function named() {
  return Promise.all(['a', 'b', 'c'].map((name) => h.server((s) => s.end(name))))
}

describe('tcp proxy distribution', () => {
  it('round robin: 30 connections over 3 backends → 10 each', async () => {
    const servers = await named()
    const lb = createBalancer()
      .backends(servers.map((s, i) => ({ id: 'abc'[i]!, host: HOST, port: s.port })))
      .strategy(roundRobin())
      .build()
    const { port } = await h.proxy(lb)
    const counts: Record<string, number> = {}
    for (let i = 0; i < 30; i++) {
      const r = await received(h.client(port))
      const name = r.data.toString()
      counts[name] = (counts[name] ?? 0) + 1
    }
    expect(counts).toEqual({ a: 10, b: 10, c: 10 })
    expect(servers.map((s) => s.accepted)).toEqual([10, 10, 10])
  })

  it('least connections with long-lived connections: an even spread, counted while open', async () => {
    const servers = await Promise.all([0, 1, 2].map(() => h.server((s) => s.on('end', () => s.end()))))
    const lb = createBalancer()
      .backends(servers.map((s, i) => ({ id: `s${i}`, host: HOST, port: s.port })))
      .strategy(leastConnections())
      .build()
    const { proxy, port } = await h.proxy(lb)
    const backendOf = new Map<number, string>() // client port → backend id
    proxy.on('connection:open', (e) => backendOf.set(e.ctx.remotePort, e.backend.id))
    const clients: net.Socket[] = []
    for (let i = 0; i < 12; i++) {
      const c = h.client(port)
      clients.push(c)
      await once(c, 'connect')
      await waitFor(() => backendOf.size === i + 1)
    }
    await waitFor(() => servers.reduce((n, s) => n + s.sockets.size, 0) === 12)
    expect(servers.map((s) => s.sockets.size)).toEqual([4, 4, 4])
    expect(lb.backends().map((b) => b.inflight)).toEqual([4, 4, 4])
    expect([...proxy.stats().backends.values()].map((t) => t.active)).toEqual([4, 4, 4])
    // Close two connections of one backend: the next two go there.
    const onS0 = clients.filter((c) => backendOf.get(c.localPort!) === 's0').slice(0, 2)
    expect(onS0).toHaveLength(2)
    for (const c of onS0) c.end()
    await waitFor(() => lb.get('s0')!.inflight === 2)
    for (let i = 0; i < 2; i++) {
      const c = h.client(port)
      await once(c, 'connect')
    }
    await waitFor(() => lb.backends().every((b) => b.inflight === 4))
    for (const c of clients) c.destroy()
  })

  it('hashes on the client IP by default (every loopback client lands on the same backend)', async () => {
    const servers = await named()
    const lb = createBalancer()
      .backends(servers.map((s, i) => ({ id: 'abc'[i]!, host: HOST, port: s.port })))
      .strategy(ringHash())
      .build()
    const { port } = await h.proxy(lb)
    const names = new Set<string>()
    for (let i = 0; i < 10; i++) names.add((await received(h.client(port))).data.toString())
    expect(names.size).toBe(1)
  })

  it('the key option changes what is hashed', async () => {
    const servers = await named()
    const lb = createBalancer()
      .backends(servers.map((s, i) => ({ id: 'abc'[i]!, host: HOST, port: s.port })))
      .strategy(ringHash())
      .build()
    const { port } = await h.proxy(lb, { key: (ctx) => `${ctx.remoteAddress}:${ctx.remotePort}` })
    const names = new Set<string>()
    for (let i = 0; i < 30; i++) names.add((await received(h.client(port))).data.toString())
    expect(names.size).toBeGreaterThan(1)
  })
})

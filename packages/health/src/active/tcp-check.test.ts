import { createServer, type Server } from 'node:net'
import { createBalancer } from '@fulcrum/core'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from './active.test-support.js'
import { tcpCheck } from './tcp-check.js'

const servers: Server[] = []
afterEach(() => {
  for (const s of servers.splice(0)) s.close()
})

async function listen(): Promise<{ server: Server; port: number; connections: () => number }> {
  let n = 0
  const server = createServer((socket) => {
    n++
    socket.on('error', () => {})
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as { port: number }).port, connections: () => n }
}

async function closedPort(): Promise<number> {
  const { server, port } = await listen()
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('tcpCheck (loopback)', () => {
  it('passes against a listening port and fails against a closed one', async () => {
    const open = await listen()
    const dead = await closedPort()
    const check = tcpCheck({ intervalMs: 50, timeoutMs: 40, fall: 1 })
    const lb = createBalancer()
      .backends([`127.0.0.1:${open.port}`, `127.0.0.1:${dead}`])
      .health(check)
      .build()
    try {
      await waitFor(() => (check.status(`127.0.0.1:${open.port}`)?.checks ?? 0) >= 2, 'two checks')
      await waitFor(() => lb.get(`127.0.0.1:${dead}`)!.health === 'unhealthy', 'closed port down')
      expect(check.status(`127.0.0.1:${open.port}`)).toMatchObject({ up: true, lastResult: 'pass' })
      expect(lb.get(`127.0.0.1:${open.port}`)!.health).toBe('healthy')
      expect(open.connections()).toBeGreaterThanOrEqual(2)
      expect(lb.get(`127.0.0.1:${dead}`)!.unhealthyReasons.get('active:tcp')).toBe('connect ECONNREFUSED')
    } finally {
      await lb.close()
    }
  })

  it('checks the port override', async () => {
    const health = await listen()
    const dead = await closedPort()
    const check = tcpCheck({ intervalMs: 50, timeoutMs: 40, port: health.port })
    const lb = createBalancer()
      .backends([`127.0.0.1:${dead}`])
      .health(check)
      .build()
    try {
      await waitFor(() => (check.status(`127.0.0.1:${dead}`)?.checks ?? 0) >= 1, 'one check')
      expect(check.status(`127.0.0.1:${dead}`)!.lastResult).toBe('pass')
      expect(health.connections()).toBe(1)
    } finally {
      await lb.close()
    }
  })
})

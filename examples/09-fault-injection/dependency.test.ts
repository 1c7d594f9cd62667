/**
 * Example 09 — break your own dependency on purpose. The code under test (`KvClient`, a client with
 * a per-attempt timeout and retries on a fresh connection) talks to a key-value server through the
 * Fulcrum TCP proxy; the test slows the server down, cuts replies and makes it go silent by adding
 * toxics to the proxy's `Faults` at run time, and asserts the client times out and retries as
 * designed. The server itself is never touched.
 */
import { createBalancer } from '@fulcrum/core'
import { leastConnections } from '@fulcrum/strategies'
import {
  blackhole,
  type ConnectionCloseEvent,
  createTcpProxy,
  Faults,
  latency,
  resetAfter,
  type TcpContext,
  type TcpProxy,
} from '@fulcrum/tcp-proxy'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { KvClient, type KvClientOptions, type KvServer, KvTimeoutError, startKvServer } from './kv.js'

let kv: KvServer
let proxy: TcpProxy
let port: number
const faults = new Faults()
const closes: ConnectionCloseEvent[] = []
const clients: KvClient[] = []

/** The client under test, pointed at the proxy instead of the server. */
function client(options: Partial<KvClientOptions> = {}): KvClient {
  const c = new KvClient({ host: '127.0.0.1', port, timeoutMs: 100, retries: 1, ...options })
  clients.push(c)
  return c
}

beforeAll(async () => {
  kv = await startKvServer()
  const lb = createBalancer<TcpContext>()
    .backends([{ id: 'kv-1', host: '127.0.0.1', port: kv.port }])
    .strategy(leastConnections())
    .build()
  proxy = createTcpProxy(lb, { faults })
  port = (await proxy.listen({ port: 0, host: '127.0.0.1' })).port
  proxy.on('connection:close', (e) => closes.push(e))
  await client().set('greeting', 'hello')
})

afterEach(() => {
  faults.clear() // every test starts with a healthy dependency
  for (const c of clients.splice(0)) c.close()
})

afterAll(async () => {
  await proxy.close()
  await kv.close()
})

describe('KvClient against a dependency broken through the proxy', () => {
  it('works through the proxy when nothing is wrong', async () => {
    const c = client()
    expect(await c.get('greeting')).toBe('hello')
    expect(c.attempts).toBe(1)
  })

  it('a slow dependency: each attempt times out after timeoutMs, one retry, then KvTimeoutError', async () => {
    faults.add(latency({ ms: 300 }), { backend: 'kv-1', direction: 'downstream' })
    const c = client({ timeoutMs: 100, retries: 1 })
    const t0 = performance.now()
    await expect(c.get('greeting')).rejects.toBeInstanceOf(KvTimeoutError)
    const elapsed = performance.now() - t0
    expect(c.attempts).toBe(2)
    expect(elapsed).toBeGreaterThanOrEqual(200) // two attempts of 100 ms
    expect(elapsed).toBeLessThan(300) // …and it did not wait for the 300 ms replies
  })

  it('a dependency that is slow but within the deadline still answers', async () => {
    faults.add(latency({ ms: 50 }), { direction: 'downstream' })
    const c = client({ timeoutMs: 200 })
    const t0 = performance.now()
    expect(await c.get('greeting')).toBe('hello')
    expect(performance.now() - t0).toBeGreaterThanOrEqual(50)
    expect(c.attempts).toBe(1)
  })

  it('a reply cut mid-way (connection reset) is retried on a new connection, which succeeds', async () => {
    // 'VALUE hello\n' is cut after 'VAL', then the proxy resets the connection.
    const id = faults.add(resetAfter({ bytes: 3 }), { direction: 'downstream' })
    const failures: string[] = []
    const c = client({
      retries: 2,
      onFailure: (_attempt, err) => {
        failures.push((err as NodeJS.ErrnoException).code ?? err.name)
        faults.remove(id) // the dependency recovers after the first failure
      },
    })
    expect(await c.get('greeting')).toBe('hello')
    expect(c.attempts).toBe(2)
    expect(failures).toHaveLength(1)
    expect(['ECONNRESET', 'ECONNCLOSED']).toContain(failures[0])
    expect(closes.some((e) => e.reason === 'fault' && e.bytesOut === 3)).toBe(true)
  })

  it('a dependency that keeps resetting: the client gives up after 1 + retries attempts', async () => {
    faults.add(resetAfter({ bytes: 0 })) // every connection is reset as soon as it opens
    const before = closes.filter((e) => e.reason === 'fault').length
    const c = client({ retries: 2 })
    await expect(c.get('greeting')).rejects.toMatchObject({
      code: expect.stringMatching(/ECONNRESET|ECONNCLOSED/),
    })
    expect(c.attempts).toBe(3)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(closes.filter((e) => e.reason === 'fault').length - before).toBe(3)
  })

  it('a silent dependency (blackhole): connections are accepted, nothing answers, the client times out', async () => {
    faults.add(blackhole(), { backend: 'kv-1' })
    const accepted = kv.connections()
    const c = client({ timeoutMs: 100, retries: 1 })
    await expect(c.get('greeting')).rejects.toBeInstanceOf(KvTimeoutError)
    expect(c.attempts).toBe(2)
    expect(kv.connections()).toBe(accepted) // the server never saw them
    faults.clear()
    expect(await c.get('greeting')).toBe('hello') // and the client recovers once it is back
  })
})

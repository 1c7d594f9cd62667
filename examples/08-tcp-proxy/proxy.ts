/**
 * Example 08: an L4 balancer in front of a Redis-style key-value service.
 *
 * Three loopback "replicas" speak a line protocol (`SET k v` → `OK`, `GET k` → the value or `NIL`,
 * `WHO` → the replica's name) over one shared store. A TCP proxy balances *connections* over them
 * with least-connections, as a connection pool in front of Redis or Postgres needs: each pooled
 * connection stays on its replica, and new ones go to the replica with the fewest. Then one replica
 * is killed: its clients see their connections end and reconnect through the proxy, which fails
 * over from the dead replica (connection refused) to a live one.
 *
 * Run: `pnpm --filter @fulcrum/example-08-tcp-proxy start`.
 */
import { once } from 'node:events'
import net from 'node:net'
import { createBalancer } from '@fulcrum/core'
import { leastConnections } from '@fulcrum/strategies'
import { createTcpProxy, type TcpContext } from '@fulcrum/tcp-proxy'

const HOST = '127.0.0.1'

interface Replica {
  readonly name: string
  readonly server: net.Server
  readonly port: number
  readonly sockets: Set<net.Socket>
}

/** A key-value replica: one command per line, one answer per line. */
async function startReplica(name: string, store: Map<string, string>): Promise<Replica> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    socket.setEncoding('utf8')
    let buffered = ''
    socket.on('data', (chunk: string) => {
      buffered += chunk
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const [cmd, key = '', ...rest] = buffered.slice(0, nl).trim().split(' ')
        buffered = buffered.slice(nl + 1)
        if (cmd === 'SET') store.set(key, rest.join(' '))
        socket.write(cmd === 'SET' ? 'OK\n' : cmd === 'GET' ? `${store.get(key) ?? 'NIL'}\n` : `${name}\n`)
      }
    })
  })
  server.listen(0, HOST)
  await once(server, 'listening')
  return { name, server, port: (server.address() as net.AddressInfo).port, sockets }
}

/** A pooled client connection: sends a command, resolves with the answer line. */
class KvConnection {
  readonly socket: net.Socket
  #buffered = ''
  #waiting: ((line: string) => void)[] = []
  closed: Promise<void>

  constructor(port: number) {
    this.socket = net.connect(port, HOST)
    this.socket.setEncoding('utf8')
    this.socket.on('error', () => {})
    this.socket.on('data', (chunk: string) => {
      this.#buffered += chunk
      for (let nl = this.#buffered.indexOf('\n'); nl >= 0; nl = this.#buffered.indexOf('\n')) {
        this.#waiting.shift()?.(this.#buffered.slice(0, nl))
        this.#buffered = this.#buffered.slice(nl + 1)
      }
    })
    this.closed = once(this.socket, 'close').then(() => {})
  }

  send(command: string): Promise<string> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve)
      this.socket.write(`${command}\n`)
    })
  }
}

/** How many pooled connections each replica holds, e.g. `kv-1 ×2, kv-2 ×2`. */
function spread(names: string[]): string {
  const counts = new Map<string, number>()
  for (const n of [...names].sort()) counts.set(n, (counts.get(n) ?? 0) + 1)
  return [...counts].map(([n, c]) => `${n} ×${c}`).join(', ')
}

export interface Summary {
  readonly before: string
  readonly after: string
  readonly value: string
  readonly failovers: number
}

export async function main(poolSize = 6): Promise<Summary> {
  const store = new Map<string, string>()
  const replicas = await Promise.all(['kv-1', 'kv-2', 'kv-3'].map((n) => startReplica(n, store)))
  const lb = createBalancer<TcpContext>({ name: 'kv' })
    .backends(replicas.map((r) => ({ id: r.name, host: HOST, port: r.port })))
    .strategy(leastConnections())
    .build()
  const proxy = createTcpProxy(lb, { connectTimeoutMs: 1_000, retries: 2 })
  let failovers = 0
  proxy.on('connection:retry', ({ backend, next, error }) => {
    failovers++
    console.log(`  failover: ${backend.id} ${(error as NodeJS.ErrnoException).code}, trying ${next.id}`)
  })
  const { port } = await proxy.listen({ port: 0, host: HOST })
  console.log(`proxy on ${HOST}:${port}, least-connections over ${replicas.map((r) => r.name).join(', ')}`)

  // A connection pool: opened one by one, each stays on the replica it was given.
  const pool: KvConnection[] = []
  const where: string[] = []
  for (let i = 0; i < poolSize; i++) {
    const c = new KvConnection(port)
    pool.push(c)
    where.push(await c.send('WHO'))
  }
  const before = spread(where)
  console.log(`pool of ${poolSize}: ${before}`)
  await pool[0]!.send('SET user:42 alice')
  const value = await pool[pool.length - 1]!.send('GET user:42')
  console.log(`SET on ${where[0]}, GET on ${where[pool.length - 1]}: user:42 = ${value}`)

  // Kill kv-2: its connections end; their owners reconnect through the proxy.
  const dead = replicas[1]!
  const orphans = pool.map((_, i) => (where[i] === dead.name ? i : -1)).filter((i) => i >= 0)
  const released = new Promise<void>((resolve) => {
    const check = (): void => {
      if (lb.get(dead.name)!.inflight > 0) return
      proxy.off('connection:close', check)
      resolve()
    }
    proxy.on('connection:close', check)
  })
  await new Promise<void>((resolve) => {
    dead.server.close(() => resolve())
    for (const s of dead.sockets) s.destroy()
  })
  // The proxy relays the replica's close to each client, and releases the connections.
  await Promise.all([released, ...orphans.map((i) => pool[i]!.closed)])
  console.log(`${dead.name} killed; ${orphans.length} pooled connections lost`)
  for (const i of orphans) {
    pool[i] = new KvConnection(port)
    where[i] = await pool[i]!.send('WHO')
  }
  const after = spread(where)
  console.log(`pool after reconnecting: ${after}`)

  for (const [id, t] of [...proxy.stats().backends].sort(([a], [b]) => a.localeCompare(b)))
    console.log(
      `  ${id}: ${t.connections} connections, ${t.connectFailures} refused, ${t.bytesIn} B in, ${t.bytesOut} B out`,
    )
  for (const c of pool) c.socket.end()
  await Promise.all(pool.map((c) => c.closed))
  await proxy.close({ graceMs: 1_000 })
  await lb.close()
  await Promise.all(replicas.map((r) => (r === dead ? undefined : new Promise((ok) => r.server.close(ok)))))
  return { before, after, value, failovers }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()

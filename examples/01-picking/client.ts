/**
 * Example 01: balancing a non-HTTP client with @fulcrum/core alone.
 *
 * Three loopback TCP servers speak a one-line protocol (`PING\n` → `PONG <name>\n`); one of them
 * answers slowly and one refuses service halfway through. A client uses `lb.execute()` to pick a
 * server per call, with retries on a server not yet tried and a per-try timeout; the default P2C
 * strategy steers load away from the busy server. Run: `pnpm --filter @fulcrum/example-01-picking start`.
 */
import { once } from 'node:events'
import net from 'node:net'
import { createBalancer } from '@fulcrum/core'

interface Demo {
  server: net.Server
  port: number
}

async function startServer(
  name: string,
  delayMs: number,
  failAfter = Number.POSITIVE_INFINITY,
): Promise<Demo> {
  let served = 0
  const server = net.createServer((socket) => {
    socket.setEncoding('utf8')
    socket.on('error', () => socket.destroy())
    socket.once('data', () => {
      if (++served > failAfter) return socket.destroy() // resets the connection: a failure for the balancer
      setTimeout(() => socket.end(`PONG ${name}\n`), delayMs)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, port: (server.address() as net.AddressInfo).port }
}

/** One call: connect, send PING, read the answer; honours the balancer's abort signal. */
function ping(host: string, port: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, signal })
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.write('PING\n'))
    socket.on('data', (chunk) => (answer += chunk))
    socket.on('error', reject)
    socket.on('close', () =>
      answer.startsWith('PONG')
        ? resolve(answer.trim())
        : reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' })),
    )
  })
}

export async function main(calls = 300, concurrency = 16): Promise<Record<string, number>> {
  const servers = await Promise.all([startServer('a', 2), startServer('b', 2, 100), startServer('c', 25)])
  const lb = createBalancer({ name: 'pinger' })
    .backends(servers.map((s, i) => ({ id: 'abc'[i]!, host: '127.0.0.1', port: s.port })))
    .retry({ retries: 2, perTryTimeoutMs: 1_000, timeoutMs: 3_000 })
    .build()
  const answers: Record<string, number> = {}
  let next = 0
  let failed = 0
  async function worker(): Promise<void> {
    while (next < calls) {
      next++
      try {
        const answer = await lb.execute({}, (b, signal) => ping(b.host, b.port, signal))
        answers[answer] = (answers[answer] ?? 0) + 1
      } catch {
        failed++
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  console.log(`${calls} calls, ${failed} failed after retries`)
  for (const b of lb.backends())
    console.log(
      `  ${b.id}: ${b.counters.successes} ok, ${b.counters.failures} failed, latency EWMA ${b.latency.raw.toFixed(1)} ms`,
    )
  await lb.close()
  for (const s of servers) s.server.close()
  return answers
}

if (import.meta.url === `file://${process.argv[1]}`) await main()

/**
 * The quick-start demo: a balancer in front of embedded loopback HTTP backends.
 *
 * Starts three real node:http backends (a and b answer in ~2 ms, c in ~20 ms and has weight 2)
 * plus one dead address (d: nothing listens, connections are refused), then sends the same bounded
 * load through `balancer.execute()` + `fetch()` with several strategies and prints, per strategy,
 * each backend's share of the requests, the client latency percentiles and client-visible errors.
 * Retries go to a backend not yet tried, so d costs a few retries, never an error, and after three
 * consecutive failures the balancer stops picking it for 10 s (passive failure avoidance). Last, the
 * same backends serve through the HTTP reverse proxy (gateway.ts).
 */
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createBalancer, p2c, type Strategy } from '@fulcrum/core'
import { leastConnections, peakEwma, ringHash, roundRobin, weightedRoundRobin } from '@fulcrum/strategies'
import { runGateway } from './gateway.js'

const REQUESTS = 600
const CONCURRENCY = 24

async function backend(name: string, delayMs: number): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer((_req, res) => {
    setTimeout(() => res.end(name), delayMs)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

async function deadUrl(): Promise<string> {
  const s = http.createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`
  await new Promise((r) => s.close(r))
  return url
}

interface Row {
  strategy: string
  shares: Record<string, number>
  p50: number
  p99: number
  errors: number
  retries: number
}

async function run(name: string, strategy: Strategy, urls: Record<string, string>): Promise<Row> {
  const lb = createBalancer({ name })
    .backends([
      { id: 'a', url: urls.a! },
      { id: 'b', url: urls.b! },
      { id: 'c', url: urls.c!, weight: 2 },
      { id: 'd', url: urls.d! },
    ])
    .strategy(strategy)
    .retry({ retries: 2, timeoutMs: 5_000 })
    .build()
  let retries = 0
  lb.on('request:retry', () => retries++)
  const served: Record<string, number> = { a: 0, b: 0, c: 0, d: 0 }
  const latencies: number[] = []
  let errors = 0
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < REQUESTS) {
      const i = next++
      const started = performance.now()
      try {
        const who = await lb.execute({ key: `user-${i % 50}` }, async (b, signal) => {
          const res = await fetch(b.url!, { signal })
          return res.text()
        })
        served[who] = (served[who] ?? 0) + 1
        latencies.push(performance.now() - started)
      } catch {
        errors++
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  await lb.close()
  latencies.sort((x, y) => x - y)
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0
  const shares = Object.fromEntries(Object.entries(served).map(([k, v]) => [k, (100 * v) / REQUESTS]))
  return { strategy: name, shares, p50: pct(0.5), p99: pct(0.99), errors, retries }
}

export async function main(): Promise<Row[]> {
  const live = await Promise.all([backend('a', 2), backend('b', 2), backend('c', 20)])
  const urls = { a: live[0]!.url, b: live[1]!.url, c: live[2]!.url, d: await deadUrl() }
  const strategies: [string, Strategy][] = [
    ['round-robin', roundRobin()],
    ['weighted-rr', weightedRoundRobin()],
    ['least-conn', leastConnections()],
    ['p2c (default)', p2c()],
    ['peak-ewma', peakEwma()],
    ['ring-hash by user', ringHash()],
  ]
  const rows: Row[] = []
  for (const [name, s] of strategies) rows.push(await run(name, s, urls))
  rows.push(await runGateway(urls, REQUESTS, CONCURRENCY))
  for (const { server } of live) server.close()
  return rows
}

function print(rows: Row[]): void {
  console.log('Backends: a, b ~2 ms; c ~20 ms, weight 2; d refuses connections.')
  console.log(
    `${REQUESTS} requests per strategy, ${CONCURRENCY} concurrent, retries: 2 (always to an untried backend)\n`,
  )
  console.log('strategy             a %    b %    c %    d %   p50 ms  p99 ms  retries  client errors')
  for (const r of rows) {
    const col = (id: string) => (r.shares[id] ?? 0).toFixed(1).padStart(6)
    console.log(
      `${r.strategy.padEnd(18)} ${col('a')} ${col('b')} ${col('c')} ${col('d')}  ${r.p50.toFixed(1).padStart(7)} ${r.p99
        .toFixed(1)
        .padStart(7)}  ${String(r.retries).padStart(7)}  ${String(r.errors).padStart(13)}`,
    )
  }
  console.log(
    '\nd never serves: its first attempts fail fast and are retried elsewhere, then the balancer avoids it',
  )
  console.log('(3 consecutive failures → no picks for 10 s, like NGINX max_fails). Latency-aware strategies')
  console.log('(least-conn, p2c, peak-ewma) send less to the slow c; round robin ignores speed and weight;')
  console.log(
    'ring hash keeps each of the 50 users on one backend. The last row goes through createHttpProxy',
  )
  console.log(
    '(a standalone reverse proxy, round robin): the client only knows the proxy, which retries for it.',
  )
}

if (import.meta.url === `file://${process.argv[1]}`) print(await main())

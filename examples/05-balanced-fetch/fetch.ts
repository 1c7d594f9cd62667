/**
 * Example 05: a load-balanced `fetch()` with no proxy in between.
 *
 * Three loopback "users" services: `users-1` is healthy, `users-2` is overloaded and answers every
 * third request with `503` + `Retry-After`, `users-3` is down (connection refused). A balanced undici
 * Dispatcher picks a backend per request round robin, retries the refused connections and the 503s
 * on a backend not yet tried (honouring `Retry-After` up to `retryAfterMaxMs`), and books every
 * outcome on the backends — the caller sees 200s only. Then the same dispatcher is installed with
 * `setGlobalDispatcher()`, so a plain `fetch()` without options is balanced too.
 * Run: `pnpm --filter @fulcrum/example-05-balanced-fetch start`.
 */
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createBalancer } from '@fulcrum/core'
import { createBalancedDispatcher } from '@fulcrum/http-proxy'
import { roundRobin } from '@fulcrum/strategies'
import { fetch, getGlobalDispatcher, setGlobalDispatcher } from 'undici'

/** A loopback JSON service; `busyEvery` > 0 makes every n-th request a 503. */
async function startService(name: string, busyEvery = 0): Promise<{ server: http.Server; url: string }> {
  let served = 0
  const server = http.createServer((req, res) => {
    if (busyEvery > 0 && ++served % busyEvery === 0) {
      res.writeHead(503, { 'retry-after': '1', 'content-type': 'text/plain' })
      res.end('overloaded, try later')
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ servedBy: name, path: req.url }))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

/** A URL nothing listens on: a backend that is down. */
async function deadUrl(): Promise<string> {
  const { server, url } = await startService('gone')
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return url
}

export interface Summary {
  readonly ok: number
  readonly failed: number
  readonly servedBy: Record<string, number>
  readonly retries: number
  readonly viaGlobal: string
}

export async function main(calls = 60): Promise<Summary> {
  const one = await startService('users-1')
  const two = await startService('users-2', 3)
  const lb = createBalancer({ name: 'users' })
    .backends([
      { id: 'users-1', url: one.url },
      { id: 'users-2', url: two.url },
      { id: 'users-3', url: await deadUrl() },
    ])
    .strategy(roundRobin())
    .retry({ retries: 2, retryAfterMaxMs: 100 })
    .build()
  let retries = 0
  lb.on('request:retry', () => retries++)

  // One keep-alive undici Pool per backend; the origin of each request is ignored.
  const dispatcher = createBalancedDispatcher(lb, { headersTimeoutMs: 5_000 })

  const servedBy: Record<string, number> = {}
  let ok = 0
  let failed = 0
  for (let i = 0; i < calls; i++) {
    try {
      const res = await fetch(`http://users/api/users/${i}`, { dispatcher })
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      const body = (await res.json()) as { servedBy: string }
      servedBy[body.servedBy] = (servedBy[body.servedBy] ?? 0) + 1
      ok++
    } catch {
      failed++
    }
  }
  console.log(`${calls} fetches: ${ok} ok, ${failed} failed, ${retries} retries on another backend`)
  for (const b of lb.backends()) {
    const c = b.counters
    console.log(
      `  ${b.id}: ${c.successes} ok, ${c.failures} failed (last: ${c.lastFailure ?? '-'}), in flight ${b.inflight}`,
    )
  }

  // Installed globally, every fetch() of the process goes through the balancer.
  const previous = getGlobalDispatcher()
  setGlobalDispatcher(dispatcher)
  let viaGlobal: string
  try {
    const res = await fetch('http://users/api/users/me')
    viaGlobal = ((await res.json()) as { servedBy: string }).servedBy
    console.log(`global fetch('http://users/api/users/me') served by ${viaGlobal}`)
  } finally {
    setGlobalDispatcher(previous)
  }

  await dispatcher.close()
  await lb.close()
  for (const s of [one, two]) s.server.close()
  return { ok, failed, servedBy, retries, viaGlobal }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()

/**
 * The demo's last act: the same backends behind Fulcrum's HTTP reverse proxy. A standalone proxy
 * (`listen()`) balances round robin with retries; clients only know the proxy's URL. The dead
 * backend costs retries inside the proxy, never a client error.
 */
import { createBalancer } from '@fulcrum/core'
import { listen } from '@fulcrum/http-proxy'
import { roundRobin } from '@fulcrum/strategies'

/** One row of the demo's table, measured through the proxy. */
export interface GatewayRow {
  strategy: string
  shares: Record<string, number>
  p50: number
  p99: number
  errors: number
  retries: number
}

/** Sends `requests` GETs, `concurrency` at a time, through a reverse proxy over `urls`. */
export async function runGateway(
  urls: Record<string, string>,
  requests: number,
  concurrency: number,
): Promise<GatewayRow> {
  const lb = createBalancer({ name: 'gateway' })
    .backends(Object.entries(urls).map(([id, url]) => ({ id, url })))
    .strategy(roundRobin())
    .retry({ retries: 2 })
    .build()
  let retries = 0
  lb.on('request:retry', () => retries++)
  const proxy = await listen(lb, { port: 0, host: '127.0.0.1' })
  const served: Record<string, number> = {}
  const latencies: number[] = []
  let errors = 0
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < requests) {
      next++
      const started = performance.now()
      try {
        const res = await fetch(`${proxy.url}/hello`)
        const who = await res.text()
        if (res.status !== 200) errors++
        else served[who] = (served[who] ?? 0) + 1
        latencies.push(performance.now() - started)
      } catch {
        errors++
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  await proxy.close()
  await lb.close()
  latencies.sort((x, y) => x - y)
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0
  const shares = Object.fromEntries(Object.entries(served).map(([k, v]) => [k, (100 * v) / requests]))
  return { strategy: 'http reverse proxy', shares, p50: pct(0.5), p99: pct(0.99), errors, retries }
}

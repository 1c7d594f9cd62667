/**
 * Example 06: a custom API gateway on plain `node:http` with `createHttpProxy()` and its hooks.
 *
 * - `onRequest` authenticates (`Authorization: Bearer <token>`, else a JSON 401) and sets the
 *   routing key from `X-Tenant`: `ringHash()` (consistent hashing) keeps each tenant on one backend.
 * - `onUpstreamRequest` strips the client's credentials and adds an `X-Request-Id`.
 * - `onUpstreamResponse` tells the client which backend served it, and the request id.
 * - `onError` renders gateway errors (502, 503, 504) as JSON instead of plain text.
 * - `onLog` prints one line per request, however it ended.
 *
 * Run: `pnpm --filter @fulcrum/example-06-custom-gateway start`.
 */
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createBalancer } from '@fulcrum/core'
import { createHttpProxy, type ProxyExchange } from '@fulcrum/http-proxy'
import { keyFromContext, ringHash } from '@fulcrum/strategies'

const HOST = '127.0.0.1'
/** API tokens this gateway accepts (a real one would verify a JWT or ask an auth service). */
const TOKENS = new Set(['token-alice', 'token-bob'])

/** A demo backend: answers with JSON naming itself and echoing the headers it received. */
async function startService(name: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ service: name, path: req.url, headers: req.headers }))
    })
  })
  server.listen(0, HOST)
  await once(server, 'listening')
  return server
}

/** Removes every `name` (lower-case) from a flat `[name, value, …]` header list, in place. */
function removeHeader(headers: string[], name: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2)
    if (headers[i]!.toLowerCase() === name) headers.splice(i, 2)
}

/** What the gateway remembers about a request between hooks. */
interface Meta {
  readonly id: string
  readonly startedMs: number
}

/** The running example. */
export interface Running {
  readonly url: string
  /** Backend ids, in order (`orders-1` …). */
  readonly backends: readonly string[]
  /** Stops one backend (to watch failover) or, without an id, all of them. */
  stop(id?: string): Promise<void>
  close(): Promise<void>
}

/** Starts three services and the gateway; `log` receives the access-log lines. */
export async function start(log: (line: string) => void = console.log): Promise<Running> {
  const ids = ['orders-1', 'orders-2', 'orders-3']
  const services = new Map(await Promise.all(ids.map(async (id) => [id, await startService(id)] as const)))
  const lb = createBalancer({ name: 'orders' })
    .backends(
      ids.map((id) => ({ id, url: `http://${HOST}:${(services.get(id)!.address() as AddressInfo).port}` })),
    )
    .strategy(ringHash({ key: keyFromContext() }))
    .build()
  const meta = new WeakMap<ProxyExchange, Meta>()
  const json = (
    ctx: ProxyExchange,
    status: number,
    body: object,
    extra: Record<string, string> = {},
  ): void => {
    const text = JSON.stringify(body)
    ctx.res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
      ...extra,
    })
    ctx.res.end(text)
  }

  const proxy = createHttpProxy(lb, {
    onRequest(ctx) {
      const id = randomUUID()
      meta.set(ctx, { id, startedMs: performance.now() })
      const auth = /^Bearer (\S+)$/.exec(ctx.headers.authorization ?? '')
      if (auth === null || !TOKENS.has(auth[1]!)) {
        json(ctx, 401, { error: 'unauthorized', requestId: id }, { 'www-authenticate': 'Bearer' })
        return true // answered here: no backend is picked
      }
      const tenant = ctx.headers['x-tenant']
      if (typeof tenant === 'string' && tenant !== '') ctx.key = tenant // the consistent-hash key
      return undefined
    },
    onUpstreamRequest(ctx, headers) {
      removeHeader(headers, 'authorization') // the backends trust the gateway, not the client's token
      removeHeader(headers, 'x-request-id')
      headers.push('x-request-id', meta.get(ctx)!.id)
    },
    onUpstreamResponse(ctx, _status, headers) {
      headers.push('x-served-by', ctx.backend!.id, 'x-request-id', meta.get(ctx)!.id)
    },
    onError(ctx, error) {
      const extra: Record<string, string> = {}
      if (error.retryAfterSeconds !== undefined) extra['retry-after'] = String(error.retryAfterSeconds)
      json(
        ctx,
        error.status,
        { error: error.code, message: error.message, requestId: meta.get(ctx)?.id },
        extra,
      )
      return true
    },
    onLog(ctx) {
      const m = meta.get(ctx)
      const ms = m === undefined ? 0 : performance.now() - m.startedMs
      log(
        `${ctx.method} ${ctx.url} ${ctx.status} tenant=${ctx.key ?? '-'} backend=${ctx.backend?.id ?? '-'} ` +
          `attempts=${ctx.attempts} ${ms.toFixed(1)}ms${ctx.error ? ` ${ctx.error.code}` : ''} id=${m?.id ?? '-'}`,
      )
    },
  })
  // `attach()` adds the upgrade listener (WebSocket handshakes run the same hooks, so they are
  // authenticated too) and the connect listener (CONNECT is refused with 405).
  const server = proxy.attach(http.createServer(proxy))
  server.listen(0, HOST)
  await once(server, 'listening')
  const stopService = async (id: string): Promise<void> => {
    const s = services.get(id)
    if (s === undefined || !s.listening) return
    const closed = new Promise((resolve) => s.close(resolve))
    s.closeAllConnections()
    await closed
  }
  return {
    url: `http://${HOST}:${(server.address() as AddressInfo).port}`,
    backends: ids,
    stop: async (id) => {
      await Promise.all((id === undefined ? ids : [id]).map(stopService))
    },
    async close() {
      const closed = new Promise((resolve) => server.close(resolve))
      server.closeIdleConnections()
      await closed
      await proxy.close()
      await lb.close()
      await Promise.all(ids.map(stopService))
    },
  }
}

/** Starts the gateway, sends a few requests, and stops. */
export async function main(): Promise<void> {
  const gw = await start()
  console.log(`gateway on ${gw.url}; consistent hashing by X-Tenant over ${gw.backends.join(', ')}`)
  const get = async (headers: Record<string, string>): Promise<void> => {
    const res = await fetch(`${gw.url}/orders`, { headers })
    const body = (await res.json()) as { service?: string; error?: string }
    console.log(
      `  → ${res.status} ${body.service ?? body.error} (x-served-by: ${res.headers.get('x-served-by')})`,
    )
  }
  await get({})
  await get({ authorization: 'Bearer nope' })
  for (const tenant of ['acme', 'globex', 'acme', 'initech', 'acme'])
    await get({ authorization: 'Bearer token-alice', 'x-tenant': tenant })
  await gw.stop()
  await get({ authorization: 'Bearer token-alice', 'x-tenant': 'acme' })
  await gw.close()
}

if (import.meta.url === `file://${process.argv[1]}`) await main()

import { once } from 'node:events'
import http from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { type Running, start } from './gateway.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const ALICE = { authorization: 'Bearer token-alice' }

interface Answer {
  status: number
  headers: Headers
  body: { service?: string; headers?: Record<string, string>; error?: string; requestId?: string }
}

let gw: Running | undefined
let lines: string[] = []
afterEach(async () => {
  await gw?.close()
  gw = undefined
})

async function gateway(): Promise<Running> {
  lines = []
  gw = await start((line) => lines.push(line))
  return gw
}

/** Waits (bounded) for `n` log lines: onLog runs when the response closes, maybe just after the client read it. */
async function logged(n: number): Promise<void> {
  for (let i = 0; i < 200 && lines.length < n; i++) await new Promise((ok) => setTimeout(ok, 5))
}

async function get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${gw!.url}${path}`, { headers })
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer['body'] }
}

describe('example 06: a custom gateway built from hooks', () => {
  it('onRequest: 401 without a valid bearer token, before any backend is involved', async () => {
    await gateway()
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: 'Basic dXNlcg==' }]) {
      const res = await get('/orders', headers)
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer')
      expect(res.body).toMatchObject({ error: 'unauthorized' })
      expect(res.headers.get('x-served-by')).toBeNull()
    }
    await logged(3)
    expect(lines).toHaveLength(3)
    expect(lines.every((l) => /^GET \/orders 401 tenant=- backend=- attempts=0 /.test(l))).toBe(true)
  })

  it('onRequest also guards upgrade requests: they are served as plain requests', async () => {
    await gateway()
    const req = http.get(`${gw!.url}/orders`, { headers: { connection: 'upgrade', upgrade: 'websocket' } })
    const [res] = (await once(req, 'response')) as [http.IncomingMessage]
    res.resume()
    expect(res.statusCode).toBe(401)
    await logged(1)
    expect(lines[0]).toMatch(/^GET \/orders 401 /)
  })

  it('onRequest: X-Tenant is the consistent-hash key — a tenant stays on one backend', async () => {
    await gateway()
    const home = new Map<string, string>()
    const tenants = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark', 'wayne', 'wonka']
    for (let round = 0; round < 3; round++)
      for (const tenant of tenants) {
        const res = await get('/orders', { ...ALICE, 'x-tenant': tenant })
        expect(res.status).toBe(200)
        if (round === 0) home.set(tenant, res.body.service!)
        else expect(res.body.service, tenant).toBe(home.get(tenant))
      }
    expect(new Set(home.values()).size).toBeGreaterThan(1)
  })

  it('onUpstreamRequest / onUpstreamResponse: request id added, token stripped, backend named', async () => {
    await gateway()
    const res = await get('/orders', { ...ALICE, 'x-tenant': 'acme', 'x-request-id': 'forged' })
    const upstream = res.body.headers!
    expect(upstream['x-request-id']).toMatch(UUID)
    expect(upstream.authorization).toBeUndefined()
    expect(upstream['x-tenant']).toBe('acme')
    expect(res.headers.get('x-request-id')).toBe(upstream['x-request-id'])
    expect(res.headers.get('x-served-by')).toBe(res.body.service)
  })

  it('a dead backend is failed over; onError renders JSON once none is left', async () => {
    const g = await gateway()
    const first = await get('/orders', { ...ALICE, 'x-tenant': 'acme' })
    await g.stop(first.body.service)
    const moved = await get('/orders', { ...ALICE, 'x-tenant': 'acme' })
    expect(moved.status).toBe(200)
    expect(moved.body.service).not.toBe(first.body.service)
    await g.stop()
    const failed = await get('/orders', { ...ALICE, 'x-tenant': 'acme' })
    expect(failed.status).toBe(502)
    expect(failed.headers.get('content-type')).toBe('application/json')
    expect(failed.body).toMatchObject({ error: 'FULCRUM_ERR_UPSTREAM_CONNECT' })
    expect(failed.body.requestId).toMatch(UUID)
    await logged(3)
    expect(lines).toHaveLength(3)
    expect(lines.at(-1)).toMatch(
      / 502 tenant=acme backend=orders-\d attempts=3 .* FULCRUM_ERR_UPSTREAM_CONNECT id=/,
    )
  })

  it('onLog: exactly one line per request, however it ended', async () => {
    await gateway()
    await get('/a')
    await get('/b?x=1', { ...ALICE, 'x-tenant': 'acme' })
    await get('/c', ALICE) // no tenant: ringHash's fallback picks
    await logged(3)
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(/^GET \/a 401 tenant=- backend=- attempts=0 [\d.]+ms id=/)
    expect(lines[1]).toMatch(/^GET \/b\?x=1 200 tenant=acme backend=orders-\d attempts=1 [\d.]+ms id=/)
    expect(lines[2]).toMatch(/^GET \/c 200 tenant=- backend=orders-\d attempts=1 /)
  })
})

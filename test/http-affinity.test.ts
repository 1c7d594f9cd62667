/**
 * Hash keys through the reverse proxy: the client IP behind a trusted front proxy (the right-most
 * untrusted `X-Forwarded-For` hop, never a forged left-most one), and the request path.
 */
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createBalancer } from '@fulcrum/core'
import { createHttpProxy, type HttpProxyOptions } from '@fulcrum/http-proxy'
import { keyFromClientIp, keyFromPath, ringHash } from '@fulcrum/strategies'
import { request } from 'undici'
import { afterEach, expect, it } from 'vitest'

const HOST = '127.0.0.1'
const servers: http.Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
})

async function serve(handler: http.RequestListener): Promise<string> {
  const s = http.createServer(handler).listen(0, HOST)
  servers.push(s)
  await once(s, 'listening')
  return `http://${HOST}:${(s.address() as AddressInfo).port}`
}

async function gateway(key: ReturnType<typeof keyFromPath>, options: HttpProxyOptions = {}) {
  const urls = await Promise.all(['a', 'b', 'c', 'd'].map((n) => serve((_req, res) => res.end(n))))
  const lb = createBalancer().backends(urls).strategy(ringHash({ key })).build()
  const proxy = createHttpProxy(lb, options)
  return serve(proxy)
}

async function who(url: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await request(url, { headers })
  return res.body.text()
}

it('hashes the client IP a trusted front proxy reports, not its own, and ignores forged hops', async () => {
  const url = await gateway(keyFromClientIp(), { trustProxy: ['127.0.0.1'] })
  const served = new Map<string, string>()
  for (let i = 1; i <= 40; i++)
    served.set(`10.1.0.${i}`, await who(`${url}/`, { 'x-forwarded-for': `10.1.0.${i}` }))
  expect(new Set(served.values()).size).toBeGreaterThan(1)
  for (const [ip, backend] of served) {
    expect(await who(`${url}/x`, { 'x-forwarded-for': ip })).toBe(backend)
    // A client that prepends a forged address still lands where its real address does.
    expect(await who(`${url}/y`, { 'x-forwarded-for': `6.6.6.6, ${ip}` })).toBe(backend)
  }
})

it('without trust, every request hashes the TCP peer (one backend for all)', async () => {
  const url = await gateway(keyFromClientIp())
  const seen = new Set<string>()
  for (let i = 1; i <= 20; i++) seen.add(await who(`${url}/`, { 'x-forwarded-for': `10.2.0.${i}` }))
  expect(seen.size).toBe(1)
})

it('hashes by path prefix: every URL under one tenant reaches one backend', async () => {
  const url = await gateway(keyFromPath({ segments: 2 }))
  const tenants = new Map<string, Set<string>>()
  for (let t = 0; t < 12; t++)
    for (const rest of ['', '/orders', '/orders/7?x=1', '/users'])
      (tenants.get(String(t)) ?? tenants.set(String(t), new Set()).get(String(t))!).add(
        await who(`${url}/tenants/${t}${rest}`),
      )
  for (const backends of tenants.values()) expect(backends.size).toBe(1)
  expect(new Set([...tenants.values()].map((s) => [...s][0])).size).toBeGreaterThan(1)
})

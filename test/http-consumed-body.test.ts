/**
 * A request whose body something else already read (a body parser in front of the proxy) cannot
 * be forwarded: the proxy says so at once with a 500 and books nothing on a backend, instead of
 * waiting forever for bytes that will never come.
 */
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createBalancer } from '@fulcrum/core'
import { createHttpProxy, type ProxyError } from '@fulcrum/http-proxy'
import { request } from 'undici'
import { afterEach, expect, it } from 'vitest'

const servers: http.Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
})

async function serve(handler: http.RequestListener): Promise<number> {
  const s = http.createServer(handler).listen(0, '127.0.0.1')
  servers.push(s)
  await once(s, 'listening')
  return (s.address() as AddressInfo).port
}

it.each([5, 200_000])(
  'a %i-byte body read before the proxy gets a 500 FULCRUM_ERR_BODY_CONSUMED',
  async (size) => {
    let seen = 0
    const backend = await serve((req, res) => {
      seen++
      req.resume()
      res.end('ok')
    })
    const lb = createBalancer()
      .backends([`http://127.0.0.1:${backend}`])
      .build()
    const errors: ProxyError[] = []
    const proxy = createHttpProxy(lb, { onLog: (ctx) => ctx.error && errors.push(ctx.error) })
    const port = await serve((req, res) => {
      req.resume()
      req.on('end', () => proxy(req, res))
    })
    const res = await request(`http://127.0.0.1:${port}/`, { method: 'POST', body: Buffer.alloc(size, 1) })
    expect(res.statusCode).toBe(500)
    await res.body.text()
    expect(seen).toBe(0)
    expect(lb.backends()[0]!.inflight).toBe(0)
    expect(errors.map((e) => e.code)).toEqual(['FULCRUM_ERR_BODY_CONSUMED'])
    await proxy.close()
  },
)

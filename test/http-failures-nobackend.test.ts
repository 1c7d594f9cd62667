/**
 * No eligible backend: the proxy answers 503 (RFC 9110 §15.6.4) with a `Retry-After` (§10.2.3)
 * without any upstream attempt — for an empty pool, a fully disabled one and a fully drained one —
 * and serves again as soon as a backend is back.
 */
import { createBalancer } from '@fulcrum/core'
import { roundRobin } from '@fulcrum/strategies'
import { afterEach, describe, expect, it } from 'vitest'
import { type Fetched, HttpHarness, settledLogs } from './http-failure-helpers.js'

const h = new HttpHarness()
afterEach(() => h.closeAll())

/** RFC 9110 §10.2.3: `Retry-After = HTTP-date / delay-seconds`. */
function expectRetryAfter(res: Fetched): void {
  const v = res.headers['retry-after']
  expect(v, 'a 503 without an eligible backend carries Retry-After').toBeTypeOf('string')
  const value = v as string
  expect(/^\d+$/.test(value) || !Number.isNaN(Date.parse(value)), `Retry-After: ${value}`).toBe(true)
}

describe('no eligible backend', () => {
  it('an empty pool: 503 with Retry-After, FULCRUM_ERR_NO_BACKEND, no attempt', async () => {
    const lb = createBalancer().backends([]).build()
    const p = await h.proxy(lb)
    const res = await h.get(`${p.url}/x`)
    expect(res.status).toBe(503)
    expectRetryAfter(res)
    const [entry] = await settledLogs(p, 1)
    expect(entry).toMatchObject({ status: 503, attempts: 0, backendId: undefined })
    expect(entry!.error).toMatchObject({ isProxyError: true, code: 'FULCRUM_ERR_NO_BACKEND', status: 503 })
  })

  it('every backend disabled: 503 with Retry-After; enabling one serves again', async () => {
    const bs = await h.backends(2)
    const lb = createBalancer()
      .backends(bs.map((b) => b.url))
      .strategy(roundRobin())
      .build()
    for (const b of lb.backends()) lb.disable(b.id)
    const p = await h.proxy(lb)
    const res = await h.get(`${p.url}/x`)
    expect(res.status).toBe(503)
    expectRetryAfter(res)
    expect(bs.map((b) => b.hits)).toEqual([0, 0])
    lb.enable(lb.backends()[1]!.id)
    const again = await h.get(`${p.url}/y`)
    expect(again.status).toBe(200)
    expect(JSON.parse(again.text)).toMatchObject({ backend: 'b1' })
  })

  it('every backend drained: 503 with Retry-After', async () => {
    const bs = await h.backends(3)
    const lb = createBalancer()
      .backends(bs.map((b) => b.url))
      .strategy(roundRobin())
      .build()
    // The standalone server of listen(), this time.
    const p = await h.listen(lb)
    expect((await h.get(`${p.url}/before`)).status).toBe(200)
    for (const b of lb.backends()) lb.drain(b.id)
    const res = await h.get(`${p.url}/x`)
    expect(res.status).toBe(503)
    expectRetryAfter(res)
    expect(bs.reduce((n, b) => n + b.hits, 0)).toBe(1)
    const logs = await settledLogs(p, 2)
    expect(logs[1]!.error).toMatchObject({ code: 'FULCRUM_ERR_NO_BACKEND' })
    for (const b of lb.backends()) expect(b.counters.failures).toBe(0)
  })

  it('the last backend removed: 503 for a POST; the same client is served once a backend is added', async () => {
    const [b] = await h.backends(1)
    const lb = createBalancer().backends([b!.url]).build()
    const p = await h.proxy(lb)
    lb.remove(lb.backends()[0]!.id)
    const agent = h.agent({ connections: 1 })
    const first = await h.request(`${p.url}/x`, { method: 'POST', body: 'some body', dispatcher: agent })
    expect(first.statusCode).toBe(503)
    await first.body.text()
    lb.add(b!.url)
    const second = await h.request(`${p.url}/y`, { method: 'POST', body: 'again', dispatcher: agent })
    expect(second.statusCode).toBe(200)
    expect(JSON.parse(await second.body.text())).toMatchObject({ url: '/y', bytes: 5 })
  })
})

/**
 * Max-Forwards (RFC 9110 §7.6.2): an OPTIONS or TRACE arriving with 0 is answered by the gateway as
 * the final recipient (TRACE reflects the request as `message/http`, §9.3.8); otherwise the value
 * is decremented; other methods carry it untouched.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { HOST, HttpHarness, sleep, values, wire } from './http-helpers.js'

const h = new HttpHarness()
afterEach(() => h.closeAll())

describe('Max-Forwards', { timeout: 10_000 }, () => {
  it('OPTIONS with Max-Forwards: 0 is answered by the gateway (200), the backend sees nothing', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const r = await h.fetchText(`${g.url}/opt`, { method: 'OPTIONS', headers: { 'max-forwards': '0' } })
    expect(r.status).toBe(200)
    await sleep(50)
    expect(b.requests).toHaveLength(0)
    expect(b.connections).toBe(0)
  })

  it('OPTIONS * with Max-Forwards: 0 is answered by the gateway too', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const { response } = await h.rawOnce(
      g.port,
      wire(['OPTIONS * HTTP/1.1', `Host: ${HOST}:${g.port}`, 'Max-Forwards: 0']),
      'OPTIONS',
    )
    expect(response.status).toBe(200)
    await sleep(50)
    expect(b.requests).toHaveLength(0)
  })

  it('TRACE with Max-Forwards: 0 is reflected by the gateway as message/http', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const r = await h.nodeRequest(g.port, {
      method: 'TRACE',
      path: '/trace/me?x=1',
      headers: ['Max-Forwards', '0', 'X-Probe', '42'],
    })
    expect(r.status).toBe(200)
    expect(String(r.headers['content-type']).toLowerCase()).toMatch(/^message\/http\b/)
    const text = r.body.toString('latin1')
    expect(text.startsWith('TRACE /trace/me?x=1 HTTP/1.1\r\n')).toBe(true)
    expect(text).toMatch(/\r\nx-probe: 42\r\n/i)
    await sleep(50)
    expect(b.requests).toHaveLength(0)
  })

  it('a reflected TRACE leaves out credentials (RFC 9110 §9.3.8 SHOULD)', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const r = await h.nodeRequest(g.port, {
      method: 'TRACE',
      path: '/trace',
      headers: ['Max-Forwards', '0', 'Cookie', 'sid=s3cr3t-cookie', 'Authorization', 'Bearer s3cr3t-token'],
    })
    expect(r.status).toBe(200)
    expect(r.body.toString('latin1')).not.toContain('s3cr3t')
  })

  it.each([
    ['OPTIONS', '5', '4'],
    ['OPTIONS', '1', '0'],
    ['TRACE', '5', '4'],
  ])('%s with Max-Forwards: %s is forwarded with %s', async (method, sent, expected) => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const r = await h.nodeRequest(g.port, { method, path: '/mf', headers: ['Max-Forwards', sent] })
    expect(r.status).toBe(200)
    expect(b.requests).toHaveLength(1)
    expect(b.requests[0]!.method).toBe(method)
    expect(values(b.requests[0]!.rawHeaders, 'max-forwards')).toEqual([expected])
  })

  it.each([
    ['GET', '0'],
    ['GET', '5'],
    ['POST', '0'],
    ['DELETE', '3'],
  ])('%s carries Max-Forwards: %s untouched', async (method, sent) => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const r = await h.nodeRequest(g.port, {
      method,
      path: '/other',
      headers: ['Max-Forwards', sent, 'Content-Length', '0'],
    })
    expect(r.status).toBe(200)
    expect(b.requests).toHaveLength(1)
    expect(values(b.requests[0]!.rawHeaders, 'max-forwards')).toEqual([sent])
  })
})

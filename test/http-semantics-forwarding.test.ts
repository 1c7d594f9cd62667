/**
 * What the gateway tells the backend about the client: X-Forwarded-For/-Proto/-Host, RFC 7239
 * `Forwarded` (strict syntax: IPv6 and host:port quoted), with and without trusted peers, over IPv4
 * and IPv6 loopback; and `Via` (RFC 9110 §7.6.3).
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  canListen,
  combined,
  HOST,
  HttpHarness,
  members,
  parseForwarded,
  type TrustProxyOption,
  values,
  wire,
} from './http-helpers.js'

const h = new HttpHarness()
afterEach(() => h.closeAll())

const IPV6 = await canListen('::1')

const INCOMING = [
  'X-Forwarded-For',
  '1.2.3.4',
  'X-Forwarded-Proto',
  'https',
  'X-Forwarded-Host',
  'evil.example',
  'Forwarded',
  'for=1.2.3.4;proto=https;host=evil.example',
]

function forwardedOf(rawHeaders: readonly string[]) {
  const v = combined(rawHeaders, 'forwarded')
  expect(v, 'the backend gets a Forwarded field').toBeDefined()
  return parseForwarded(v!)
}

describe('X-Forwarded-* and Forwarded from an untrusted peer', { timeout: 10_000 }, () => {
  it.each<[string, TrustProxyOption | undefined]>([
    ['default', undefined],
    ['false', false],
    ["['10.0.0.0/8']", ['10.0.0.0/8']],
    ['a function saying no', () => false],
  ])('replaces the incoming values with the gateway’s view (trustProxy %s)', async (_name, trustProxy) => {
    const b = await h.backend()
    const g = await h.gateway(
      [b],
      trustProxy === undefined ? { forwarded: true } : { forwarded: true, trustProxy },
    )
    const r = await h.nodeRequest(g.port, {
      path: '/xff',
      headers: ['Host', 'app.example:8080', ...INCOMING],
    })
    expect(r.status).toBe(200)
    const seen = b.requests[0]!.rawHeaders
    expect(members(seen, 'x-forwarded-for')).toEqual(['127.0.0.1'])
    expect(values(seen, 'x-forwarded-proto')).toEqual(['http'])
    expect(values(seen, 'x-forwarded-host')).toEqual(['app.example:8080'])
    const fwd = forwardedOf(seen)
    expect(fwd).toHaveLength(1)
    expect(fwd[0]).toMatchObject({ for: '127.0.0.1', proto: 'http', host: 'app.example:8080' })
  })

  it('sets them when the client sent none (one line each)', async () => {
    const b = await h.backend()
    const g = await h.gateway([b], { forwarded: true })
    await h.nodeRequest(g.port, { path: '/fresh', headers: ['Host', 'app.example'] })
    const seen = b.requests[0]!.rawHeaders
    expect(values(seen, 'x-forwarded-for')).toEqual(['127.0.0.1'])
    expect(values(seen, 'x-forwarded-proto')).toEqual(['http'])
    expect(values(seen, 'x-forwarded-host')).toEqual(['app.example'])
    expect(forwardedOf(seen)).toEqual([
      expect.objectContaining({ for: '127.0.0.1', proto: 'http', host: 'app.example' }),
    ])
  })

  it('adds no Forwarded by default, and no X-Forwarded-* with xForwarded: false', async () => {
    const b = await h.backend()
    const g1 = await h.gateway([b])
    await h.nodeRequest(g1.port, { path: '/default' })
    expect(values(b.requests[0]!.rawHeaders, 'forwarded')).toEqual([])
    expect(members(b.requests[0]!.rawHeaders, 'x-forwarded-for')).toEqual(['127.0.0.1'])
    const g2 = await h.gateway([b], { xForwarded: false })
    await h.nodeRequest(g2.port, { path: '/off' })
    const seen = b.requests[1]!.rawHeaders
    for (const name of ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'])
      expect(values(seen, name), name).toEqual([])
  })
})

describe('X-Forwarded-* and Forwarded from a trusted peer', { timeout: 10_000 }, () => {
  it.each<[string, TrustProxyOption]>([
    ["['127.0.0.1']", ['127.0.0.1']],
    ["['127.0.0.0/8']", ['127.0.0.0/8']],
    ['true', true],
  ])('keeps the incoming values and appends the peer (trustProxy %s)', async (_name, trustProxy) => {
    const b = await h.backend()
    const g = await h.gateway([b], { forwarded: true, trustProxy })
    const r = await h.nodeRequest(g.port, {
      path: '/trusted',
      headers: ['Host', 'app.example:8080', ...INCOMING],
    })
    expect(r.status).toBe(200)
    const seen = b.requests[0]!.rawHeaders
    expect(members(seen, 'x-forwarded-for')).toEqual(['1.2.3.4', '127.0.0.1'])
    expect(values(seen, 'x-forwarded-proto')).toEqual(['https'])
    expect(values(seen, 'x-forwarded-host')).toEqual(['evil.example'])
    const fwd = forwardedOf(seen)
    expect(fwd).toHaveLength(2)
    expect(fwd[0]).toEqual({ for: '1.2.3.4', proto: 'https', host: 'evil.example' })
    expect(fwd[1]).toMatchObject({ for: '127.0.0.1', proto: 'http' })
  })

  it('keeps every incoming X-Forwarded-For line, in order, before the peer', async () => {
    const b = await h.backend()
    const g = await h.gateway([b], { trustProxy: ['127.0.0.1'] })
    await h.nodeRequest(g.port, {
      path: '/chain',
      headers: ['X-Forwarded-For', '1.2.3.4', 'X-Forwarded-For', '10.0.0.1, 10.0.0.2'],
    })
    expect(members(b.requests[0]!.rawHeaders, 'x-forwarded-for')).toEqual([
      '1.2.3.4',
      '10.0.0.1',
      '10.0.0.2',
      '127.0.0.1',
    ])
  })
})

describe.skipIf(!IPV6)('forwarding headers over IPv6 loopback', { timeout: 10_000 }, () => {
  it('untrusted: for="[::1]" quoted, X-Forwarded-For ::1', async () => {
    const b = await h.backend()
    const g = await h.gateway([b], { forwarded: true }, '::1')
    const r = await h.nodeRequest(g.port, { host: '::1', path: '/v6', headers: INCOMING })
    expect(r.status).toBe(200)
    const seen = b.requests[0]!.rawHeaders
    expect(members(seen, 'x-forwarded-for')).toEqual(['::1'])
    expect(values(seen, 'x-forwarded-host')).toEqual([`[::1]:${g.port}`])
    // the strict parser rejects an unquoted [::1] (":" and "[" are not tchar)
    const fwd = forwardedOf(seen)
    expect(fwd).toEqual([expect.objectContaining({ for: '[::1]', proto: 'http', host: `[::1]:${g.port}` })])
    expect(combined(seen, 'forwarded')).toContain('for="[::1]"')
  })

  it('trusted ::1: keeps an incoming IPv6 chain and appends "[::1]"', async () => {
    const b = await h.backend()
    const g = await h.gateway([b], { forwarded: true, trustProxy: ['::1'] }, '::1')
    await h.nodeRequest(g.port, {
      host: '::1',
      path: '/v6-trusted',
      headers: ['X-Forwarded-For', '2001:db8::1', 'Forwarded', 'for="[2001:db8::1]:4711";proto=https'],
    })
    const seen = b.requests[0]!.rawHeaders
    expect(members(seen, 'x-forwarded-for')).toEqual(['2001:db8::1', '::1'])
    const fwd = forwardedOf(seen)
    expect(fwd).toHaveLength(2)
    expect(fwd[0]).toEqual({ for: '[2001:db8::1]:4711', proto: 'https' })
    expect(fwd[1]).toMatchObject({ for: '[::1]', proto: 'http' })
  })
})

describe('Via', { timeout: 10_000 }, () => {
  it('appends "1.1 fulcrum" to an incoming Via', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    await h.nodeRequest(g.port, { path: '/via', headers: ['Via', '1.0 other'] })
    expect(members(b.requests[0]!.rawHeaders, 'via')).toEqual(['1.0 other', '1.1 fulcrum'])
  })

  it('sets "1.1 fulcrum" when there was none, and the configured pseudonym', async () => {
    const b = await h.backend()
    const g1 = await h.gateway([b])
    await h.nodeRequest(g1.port, { path: '/via-none' })
    expect(members(b.requests[0]!.rawHeaders, 'via')).toEqual(['1.1 fulcrum'])
    const g2 = await h.gateway([b], { via: 'edge-7' })
    await h.nodeRequest(g2.port, { path: '/via-named', headers: ['Via', '1.1 a, 1.1 b'] })
    expect(members(b.requests[1]!.rawHeaders, 'via')).toEqual(['1.1 a', '1.1 b', '1.1 edge-7'])
  })

  it('via: false adds nothing and leaves an incoming Via alone', async () => {
    const b = await h.backend()
    const g = await h.gateway([b], { via: false })
    await h.nodeRequest(g.port, { path: '/via-off' })
    await h.nodeRequest(g.port, { path: '/via-off-2', headers: ['Via', '1.0 other'] })
    expect(values(b.requests[0]!.rawHeaders, 'via')).toEqual([])
    expect(members(b.requests[1]!.rawHeaders, 'via')).toEqual(['1.0 other'])
  })

  it('an HTTP/1.0 client gives "1.0 fulcrum" (the received protocol)', async () => {
    const b = await h.backend()
    const g = await h.gateway([b])
    const { response } = await h.rawOnce(g.port, wire(['GET /via-10 HTTP/1.0', `Host: ${HOST}:${g.port}`]))
    expect(response.status).toBe(200)
    expect(members(b.requests[0]!.rawHeaders, 'via')).toEqual(['1.0 fulcrum'])
  })
})

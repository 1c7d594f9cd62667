import type { IncomingMessage } from 'node:http'
import { createBalancer, InvalidOptionError } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { resolveConfig } from './config.js'
import { clientAddressOf, forwardedElement, forwardedValue } from './forwarded.js'
import { isHopByHop, nominated, teAllowsTrailers } from './hop-by-hop.js'
import { buildRequestHead, type RequestFacts } from './request-head.js'
import { parseTarget, validHost } from './request-target.js'
import { responseHeaders, retryAfterMs } from './response-head.js'

const lb = createBalancer().backends(['http://127.0.0.1:9001']).build()

function facts(): RequestFacts {
  return {
    upstreamHeaders: [],
    host: undefined,
    contentLength: -1,
    chunked: false,
    maxForwards: -1,
    cookie: undefined,
  }
}

function request(rawHeaders: string[], method = 'GET', version = '1.1'): IncomingMessage {
  const [major, minor] = version.split('.').map(Number)
  return {
    rawHeaders,
    method,
    httpVersion: version,
    httpVersionMajor: major,
    httpVersionMinor: minor,
    socket: {},
  } as never
}

function head(rawHeaders: string[], options = {}, peer = '10.0.0.9', method = 'GET') {
  const f = facts()
  const error = buildRequestHead(request(rawHeaders, method), resolveConfig(lb, options), undefined, peer, f)
  return {
    error,
    f,
    names: f.upstreamHeaders.filter((_, i) => i % 2 === 0),
    get: (n: string) => f.upstreamHeaders.filter((_, i, a) => i % 2 === 1 && a[i - 1] === n),
  }
}

describe('hop-by-hop rules', () => {
  it('knows the always-hop-by-hop fields in any case', () => {
    for (const n of [
      'Connection',
      'KEEP-ALIVE',
      'proxy-connection',
      'TE',
      'Trailer',
      'Transfer-Encoding',
      'Upgrade',
      'HTTP2-Settings',
    ])
      expect(isHopByHop(n)).toBe(true)
    for (const n of ['Content-Length', 'Host', 'Trailers', 'X-Upgrade']) expect(isHopByHop(n)).toBe(false)
  })
  it('collects the fields Connection nominates', () => {
    expect(nominated('keep-alive', undefined)).toBeUndefined()
    expect([...(nominated('close, X-Secret ,  x-other', undefined) ?? [])]).toEqual(['x-secret', 'x-other'])
  })
  it('keeps TE only for trailers', () => {
    expect(teAllowsTrailers('trailers')).toBe(true)
    expect(teAllowsTrailers('gzip;q=0.5, trailers')).toBe(true)
    expect(teAllowsTrailers('gzip')).toBe(false)
  })
})

describe('the upstream request head', () => {
  it('drops hop-by-hop and nominated fields before adding its own, so Connection cannot remove them', () => {
    const { names, get } = head([
      'Host',
      'a',
      'Connection',
      'x-secret, X-Forwarded-For, via',
      'X-Secret',
      's',
      'Keep-Alive',
      'timeout=5',
      'TE',
      'trailers, gzip',
      'Upgrade',
      'h2c',
      'HTTP2-Settings',
      'x',
      'Expect',
      '100-continue',
      'Accept',
      'a',
      'Accept',
      'b',
    ])
    expect(names).toEqual([
      'te',
      'Accept',
      'Accept',
      'host',
      'x-forwarded-for',
      'x-forwarded-proto',
      'x-forwarded-host',
      'via',
    ])
    expect(get('te')).toEqual(['trailers'])
    expect(get('Accept')).toEqual(['a', 'b'])
    expect(get('x-forwarded-for')).toEqual(['10.0.0.9'])
    expect(get('via')).toEqual(['1.1 fulcrum'])
  })
  it('replaces an untrusted peer’s forwarding fields and extends a trusted peer’s', () => {
    const raw = [
      'Host',
      'a',
      'X-Forwarded-For',
      '1.2.3.4',
      'X-Forwarded-Proto',
      'https',
      'X-Forwarded-Host',
      'orig',
      'Forwarded',
      'for=1.2.3.4',
      'Via',
      '1.0 other',
    ]
    const untrusted = head(raw, { forwarded: true })
    expect(untrusted.get('x-forwarded-for')).toEqual(['10.0.0.9'])
    expect(untrusted.get('x-forwarded-proto')).toEqual(['http'])
    expect(untrusted.get('x-forwarded-host')).toEqual(['a'])
    expect(untrusted.get('forwarded')).toEqual(['for=10.0.0.9;host=a;proto=http'])
    expect(untrusted.get('via')).toEqual(['1.0 other, 1.1 fulcrum'])
    const trusted = head(raw, { forwarded: true, trustProxy: ['10.0.0.0/8'] })
    expect(trusted.get('x-forwarded-for')).toEqual(['1.2.3.4, 10.0.0.9'])
    expect(trusted.get('x-forwarded-proto')).toEqual(['https'])
    expect(trusted.get('x-forwarded-host')).toEqual(['orig'])
    expect(trusted.get('forwarded')).toEqual(['for=1.2.3.4, for=10.0.0.9;host=a;proto=http'])
  })
  it('refuses missing, repeated and invalid Host, and codings other than chunked', () => {
    expect(head([]).error).toBe('Missing Host header')
    expect(head(['Host', 'a', 'host', 'b']).error).toBe('More than one Host header')
    expect(head(['Host', 'a b']).error).toBe('Invalid Host header')
    expect(head(['Host', 'a', 'Transfer-Encoding', 'gzip, chunked'], {}, '1.1.1.1', 'POST').error).toBe(
      'Unsupported transfer coding',
    )
    expect(head(['Host', 'a', 'Transfer-Encoding', 'chunked'], {}, '1.1.1.1', 'POST').f.chunked).toBe(true)
  })
  it('decrements Max-Forwards for OPTIONS and TRACE only', () => {
    expect(head(['Host', 'a', 'Max-Forwards', '5'], {}, '1.1.1.1', 'OPTIONS').get('Max-Forwards')).toEqual([
      '4',
    ])
    expect(head(['Host', 'a', 'Max-Forwards', '0'], {}, '1.1.1.1', 'TRACE').f.maxForwards).toBe(0)
    expect(head(['Host', 'a', 'Max-Forwards', '5']).get('Max-Forwards')).toEqual(['5'])
  })
  it('omits Via and X-Forwarded-* when disabled', () => {
    const { names } = head(['Host', 'a'], { via: false, xForwarded: false })
    expect(names).toEqual(['host'])
  })
})

describe('request targets and forwarding syntax', () => {
  it('reduces absolute-form to origin-form and takes its authority', () => {
    expect(parseTarget('http://example.invalid/x?y')).toEqual({ path: '/x?y', authority: 'example.invalid' })
    expect(parseTarget('HTTPS://h:8443')).toEqual({ path: '/', authority: 'h:8443' })
    expect(parseTarget('http://user@h/')).toBeUndefined()
    expect(parseTarget('example.invalid:443')).toBeUndefined()
  })
  it('validates Host values', () => {
    for (const ok of ['a', 'a.b:80', '[::1]:8080', '', 'xn--n3h.example']) expect(validHost(ok)).toBe(true)
    for (const bad of ['a b', 'a/b', 'a@b', 'a:b:c:d/']) expect(validHost(bad)).toBe(false)
  })
  it('quotes IPv6 nodes and non-token values (RFC 7239)', () => {
    expect(forwardedElement('::1', 'h:80', 'https')).toBe('for="[::1]";host="h:80";proto=https')
    expect(forwardedValue('plain')).toBe('plain')
  })
})

describe('the response head', () => {
  it('strips hop-by-hop and nominated fields, keeps Set-Cookie lines apart', () => {
    const raw = [
      'Connection',
      'x-internal',
      'X-Internal',
      '1',
      'Keep-Alive',
      'timeout=5',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
      'Transfer-Encoding',
      'chunked',
    ].map((s) => Buffer.from(s))
    expect(responseHeaders(raw)).toEqual(['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2'])
  })
  it('parses Retry-After seconds and dates', () => {
    expect(retryAfterMs('3', 0)).toBe(3000)
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6_000)
    expect(retryAfterMs('soon', 0)).toBeUndefined()
  })
})

describe('options', () => {
  it('rejects bad values with their path', () => {
    const path = (o: object) => {
      try {
        resolveConfig(lb, o as never)
      } catch (err) {
        return err instanceof InvalidOptionError ? err.path : 'other'
      }
      return 'none'
    }
    expect(path({ connectTimeoutMs: 0 })).toBe('options.connectTimeoutMs')
    expect(path({ retryOnStatus: [99] })).toBe('options.retryOnStatus[0]')
    expect(path({ trustProxy: ['nope'] })).toBe('options.trustProxy[0]')
    expect(path({ via: 'two words' })).toBe('options.via')
    expect(path({ sticky: { cookie: 'a;b' } })).toBe('options.sticky.cookie')
    expect(path({ onLog: 1 })).toBe('options.onLog')
    expect(path({ bogus: 1 })).toBe('options.bogus')
    expect(path({})).toBe('none')
  })
  it('defaults retries to 2 unless the balancer configured them', () => {
    expect(resolveConfig(lb, {}).retries).toBe(2)
    expect(resolveConfig(createBalancer().retry({ retries: 0 }).build(), {}).retries).toBe(0)
  })
})

describe('the client address behind trusted proxies', () => {
  const trust = (a: string) => a.startsWith('10.')
  it('is the peer unless the peer is trusted', () => {
    expect(clientAddressOf('1.2.3.4', '9.9.9.9', trust)).toBe('1.2.3.4')
    expect(clientAddressOf('10.0.0.1', undefined, trust)).toBe('10.0.0.1')
  })
  it('is the right-most untrusted X-Forwarded-For hop (a client cannot forge past it)', () => {
    expect(clientAddressOf('10.0.0.1', 'forged, 5.6.7.8, 10.0.0.2', trust)).toBe('5.6.7.8')
    expect(clientAddressOf('10.0.0.1', ['7.7.7.7', '10.0.0.3'], trust)).toBe('7.7.7.7')
    expect(clientAddressOf('10.0.0.1', 'garbage', trust)).toBe('10.0.0.1')
  })
})

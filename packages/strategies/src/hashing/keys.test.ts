import { createBalancer, InvalidOptionError } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import {
  firstKey,
  type HttpKeyContext,
  keyFrom,
  keyFromClientIp,
  keyFromContext,
  keyFromCookie,
  keyFromHeader,
  keyFromPath,
  keyFromQuery,
} from './keys.js'
import { ringHash } from './ring-hash.js'

const withHeaders = (headers: HttpKeyContext['headers']): HttpKeyContext =>
  headers === undefined ? {} : { headers }

function expectInvalid(fn: () => unknown, path: string): void {
  try {
    fn()
    expect.unreachable()
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidOptionError)
    expect((err as InvalidOptionError).path).toBe(path)
  }
}

describe('keyFromHeader', () => {
  it('reads a header case-insensitively', () => {
    const k = keyFromHeader('X-User-Id')
    expect(k(withHeaders({ 'x-user-id': '42' }))).toBe('42')
    expect(k(withHeaders({ 'X-USER-ID': '43' }))).toBe('43')
    expect(keyFromHeader('x-user-id')(withHeaders({ 'X-User-Id': '44' }))).toBe('44')
  })

  it('joins the values of a repeated header in order', () => {
    const k = keyFromHeader('x-tag')
    expect(k(withHeaders({ 'x-tag': ['a', 'b', 'c'] }))).toBe('a,b,c')
    expect(k(withHeaders({ 'x-tag': ['only'] }))).toBe('only')
  })

  it('gives no key for a missing or empty header', () => {
    const k = keyFromHeader('x-user-id')
    expect(k({})).toBeUndefined()
    expect(k(withHeaders({}))).toBeUndefined()
    expect(k(withHeaders({ 'x-user-id': undefined }))).toBeUndefined()
    expect(k(withHeaders({ 'x-user-id': '' }))).toBeUndefined()
    expect(k(withHeaders({ 'x-user-id': [] }))).toBeUndefined()
    expect(k(withHeaders({ 'x-user-idx': '1' }))).toBeUndefined()
  })

  it('rejects an empty name', () => {
    expectInvalid(() => keyFromHeader(''), 'keyFromHeader.name')
    expectInvalid(() => keyFromHeader(3 as never), 'keyFromHeader.name')
  })
})

describe('keyFromCookie', () => {
  const sid = keyFromCookie('sid')
  const cookie = (value: string | string[]) => sid(withHeaders({ cookie: value }))

  it('finds a cookie among RFC 6265 pairs', () => {
    expect(cookie('sid=abc')).toBe('abc')
    expect(cookie('theme=dark; sid=abc; lang=en')).toBe('abc')
    expect(cookie('theme=dark; sid=abc')).toBe('abc')
  })

  it('tolerates missing or extra spaces and tabs around pairs and “=”', () => {
    expect(cookie('theme=dark;sid=abc')).toBe('abc')
    expect(cookie('theme=dark;   sid=abc  ;lang=en')).toBe('abc')
    expect(cookie('theme=dark;\tsid = abc')).toBe('abc')
  })

  it('unquotes a quoted value and keeps “=” inside values', () => {
    expect(cookie('sid="abc"')).toBe('abc')
    expect(cookie('a=1; sid="x y"; b=2')).toBe('x y')
    expect(cookie('sid=a=b==')).toBe('a=b==')
    expect(cookie('sid="')).toBe('"')
  })

  it('matches whole names only, case-sensitively', () => {
    expect(cookie('xsid=1; sid2=2')).toBeUndefined()
    expect(cookie('SID=1')).toBeUndefined()
    expect(cookie('xsid=1; sid=2')).toBe('2')
    expect(cookie('a=sid=3')).toBeUndefined()
  })

  it('gives no key for a missing header, cookie or value', () => {
    expect(sid({})).toBeUndefined()
    expect(cookie('')).toBeUndefined()
    expect(cookie('theme=dark')).toBeUndefined()
    expect(cookie('sid=')).toBeUndefined()
    expect(cookie('sid=""')).toBeUndefined()
    expect(cookie('sid')).toBeUndefined()
    expect(cookie('sid; theme=dark')).toBeUndefined()
    expect(cookie(';;; ;')).toBeUndefined()
  })

  it('searches every cookie field (HTTP/2 may split them) and any header-name case', () => {
    expect(cookie(['theme=dark', 'sid=abc'])).toBe('abc')
    expect(sid(withHeaders({ Cookie: 'sid=up' }))).toBe('up')
  })
})

describe('keyFromClientIp', () => {
  it('uses the whole address by default, IPv4-mapped IPv6 as IPv4', () => {
    const k = keyFromClientIp()
    expect(k({ remoteAddress: '10.1.2.3' })).toBe('10.1.2.3')
    expect(k({ remoteAddress: '::ffff:10.1.2.3' })).toBe('10.1.2.3')
    expect(k({ remoteAddress: '2001:db8::1' })).toBe('2001:db8::1')
    expect(k({ remoteAddress: '' })).toBeUndefined()
    expect(k({})).toBeUndefined()
  })

  it('keeps only the /24 (like nginx ip_hash), or any prefix', () => {
    const k = keyFromClientIp({ ipv4Prefix: 24 })
    expect(k({ remoteAddress: '10.1.2.3' })).toBe('10.1.2.0/24')
    expect(k({ remoteAddress: '10.1.2.250' })).toBe('10.1.2.0/24')
    expect(k({ remoteAddress: '::ffff:10.1.2.77' })).toBe('10.1.2.0/24')
    expect(k({ remoteAddress: '10.1.3.3' })).toBe('10.1.3.0/24')
    expect(k({ remoteAddress: '2001:db8::1' })).toBe('2001:db8::1')
    expect(k({ remoteAddress: 'not-an-ip' })).toBe('not-an-ip')
    expect(k({ remoteAddress: '300.1.2.3' })).toBe('300.1.2.3')
    expect(keyFromClientIp({ ipv4Prefix: 16 })({ remoteAddress: '192.168.77.1' })).toBe('192.168.0.0/16')
    expect(keyFromClientIp({ ipv4Prefix: 20 })({ remoteAddress: '10.1.31.3' })).toBe('10.1.16.0/20')
    expect(keyFromClientIp({ ipv4Prefix: 1 })({ remoteAddress: '200.1.1.1' })).toBe('128.0.0.0/1')
    expect(keyFromClientIp({ ipv4Prefix: 32 })({ remoteAddress: '::ffff:1.2.3.4' })).toBe('1.2.3.4')
  })

  it('validates its options', () => {
    expectInvalid(() => keyFromClientIp({ ipv4Prefix: 33 }), 'keyFromClientIp.ipv4Prefix')
    expectInvalid(() => keyFromClientIp({ ipv4Prefix: 0 }), 'keyFromClientIp.ipv4Prefix')
    expectInvalid(() => keyFromClientIp({ ipv4Prefix: 24.5 }), 'keyFromClientIp.ipv4Prefix')
    expectInvalid(() => keyFromClientIp({ prefix: 24 } as never), 'keyFromClientIp.prefix')
  })
})

describe('keyFromQuery', () => {
  const user = keyFromQuery('user')
  const q = (url: string) => user({ url })

  it('reads the first value of a parameter', () => {
    expect(q('/cart?user=42')).toBe('42')
    expect(q('/cart?a=1&user=42&b=2')).toBe('42')
    expect(q('/cart?user=42&user=43')).toBe('42')
    expect(q('http://example.com/x?user=7#frag')).toBe('7')
  })

  it('percent-decodes values (and “+” as a space), keeping malformed escapes as they are', () => {
    expect(q('/?user=a%20b')).toBe('a b')
    expect(q('/?user=a+b')).toBe('a b')
    expect(q('/?user=%E2%9C%93')).toBe('✓')
    expect(q('/?user=100%')).toBe('100%')
    expect(q('/?user=a%2')).toBe('a%2')
    expect(keyFromQuery('my param')({ url: '/?my%20param=1' })).toBe('1')
    expect(keyFromQuery('my param')({ url: '/?my+param=2' })).toBe('2')
  })

  it('gives no key when the parameter or its value is absent', () => {
    expect(q('/cart')).toBeUndefined()
    expect(q('/cart?')).toBeUndefined()
    expect(q('/cart?users=1&xuser=2')).toBeUndefined()
    expect(q('/cart?user')).toBeUndefined()
    expect(q('/cart?user=')).toBeUndefined()
    expect(q('/cart?user=&user=5')).toBeUndefined()
    expect(q('/cart#?user=1')).toBeUndefined()
    expect(q('/cart?a=1#user=1')).toBeUndefined()
    expect(user({})).toBeUndefined()
  })

  it('rejects an empty name', () => {
    expectInvalid(() => keyFromQuery(''), 'keyFromQuery.param')
  })
})

describe('keyFromContext, keyFrom, firstKey', () => {
  it('reads ctx.key, treating an empty key as none', () => {
    const k = keyFromContext()
    expect(k({ key: 'a' })).toBe('a')
    expect(k({ key: '' })).toBeUndefined()
    expect(k({})).toBeUndefined()
    expect(k(undefined as never)).toBeUndefined()
  })

  it('wraps a custom extractor', () => {
    const k = keyFrom<{ tenant?: string }>((ctx) => ctx.tenant)
    expect(k({ tenant: 't1' })).toBe('t1')
    expect(k({ tenant: '' })).toBeUndefined()
    expect(keyFrom(() => 42 as never)({})).toBeUndefined()
    expectInvalid(() => keyFrom('tenant' as never), 'keyFrom.fn')
  })

  it('takes the first non-empty key', () => {
    const k = firstKey<HttpKeyContext>(keyFromCookie('sid'), keyFromHeader('x-user'), keyFromClientIp())
    expect(k({ headers: { cookie: 'sid=s1', 'x-user': 'u1' }, remoteAddress: '1.2.3.4' })).toBe('s1')
    expect(k({ headers: { cookie: 'sid=', 'x-user': 'u1' }, remoteAddress: '1.2.3.4' })).toBe('u1')
    expect(k({ headers: { 'x-user': '' }, remoteAddress: '1.2.3.4' })).toBe('1.2.3.4')
    expect(k({})).toBeUndefined()
    expect(firstKey()({})).toBeUndefined()
    expectInvalid(() => firstKey(keyFromContext(), null as never), 'firstKey[1]')
  })

  it('plugs into a strategy and a balancer typed by the HTTP context', () => {
    const lb = createBalancer<HttpKeyContext>()
      .backends(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80'])
      .strategy(ringHash({ key: firstKey(keyFromHeader('x-user'), keyFromClientIp({ ipv4Prefix: 24 })) }))
      .build()
    const a = lb.pick({ remoteAddress: '10.9.8.1' }).backend
    expect(lb.pick({ remoteAddress: '10.9.8.200' }).backend).toBe(a)
    const u = lb.pick({ headers: { 'x-user': 'alice' } }).backend
    expect(lb.pick({ headers: { 'x-user': 'alice' }, remoteAddress: '1.1.1.1' }).backend).toBe(u)
  })
})

describe('keyFromPath', () => {
  it('keys by the path without query and fragment, optionally by its leading segments', () => {
    const whole = keyFromPath()
    expect(whole({ url: '/a/b?x=1#f' })).toBe('/a/b')
    expect(whole({ url: '/a/b' })).toBe('/a/b')
    const two = keyFromPath({ segments: 2 })
    expect(two({ url: '/tenants/7/orders?x' })).toBe('/tenants/7')
    expect(two({ url: '/tenants/7' })).toBe('/tenants/7')
    expect(two({ url: '/t' })).toBe('/t')
    expect(whole({})).toBeUndefined()
    expect(whole({ url: '?q' })).toBeUndefined()
  })
  it('rejects bad options with their path', () => {
    expect(() => keyFromPath({ segments: 0 })).toThrow(/keyFromPath\.segments/)
    expect(() => keyFromPath({ bogus: 1 } as never)).toThrow(/keyFromPath/)
  })
})

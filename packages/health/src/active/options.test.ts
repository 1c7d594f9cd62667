import { describe, expect, it } from 'vitest'
import { errorPath } from './active.test-support.js'
import { fnCheck } from './fn-check.js'
import { httpCheck } from './http-check.js'
import type { HttpCheckOptions } from './http-options.js'
import { tcpCheck } from './tcp-check.js'

const http = (o: unknown) => errorPath(() => httpCheck(o as HttpCheckOptions))

describe('active check options', () => {
  it('validate in the factory and name the option path', () => {
    expect(http({ intervalMs: -1 })).toBe('httpCheck.intervalMs')
    expect(http({ intervalMs: 1_000, timeoutMs: 1_000 })).toBe('httpCheck.timeoutMs')
    expect(http({ unhealthyIntervalMs: 500, timeoutMs: 600 })).toBe('httpCheck.timeoutMs')
    expect(http({ timeoutMs: 0 })).toBe('httpCheck.timeoutMs')
    expect(http({ rise: 0 })).toBe('httpCheck.rise')
    expect(http({ fall: 1.5 })).toBe('httpCheck.fall')
    expect(http({ jitter: 0.6 })).toBe('httpCheck.jitter')
    expect(http({ initialState: 'fully-up' })).toBe('httpCheck.initialState')
    expect(http({ source: '' })).toBe('httpCheck.source')
    expect(http({ filter: 'b1' })).toBe('httpCheck.filter')
    expect(http({ intervl: 5 })).toBe('httpCheck.intervl')
    expect(http(null)).toBe('httpCheck')
    expect(errorPath(() => tcpCheck({ port: 70_000 }))).toBe('tcpCheck.port')
    expect(errorPath(() => tcpCheck({ path: '/' } as never))).toBe('tcpCheck.path')
    expect(errorPath(() => fnCheck('nope' as never))).toBe('fnCheck.fn')
    expect(errorPath(() => fnCheck(() => true, { timeoutMs: 9_000 }))).toBe('fnCheck.timeoutMs')
  })

  it('the message says what was expected', () => {
    expect(() => httpCheck({ intervalMs: 1_000, timeoutMs: 1_500 })).toThrow(
      'Invalid option httpCheck.timeoutMs: expected a number < intervalMs (1000), got 1500',
    )
  })

  it('validates the HTTP options', () => {
    expect(http({ path: 'healthz' })).toBe('httpCheck.path')
    expect(http({ path: '/a b' })).toBe('httpCheck.path')
    expect(http({ method: 'get' })).toBe('httpCheck.method')
    expect(http({ host: 'a b' })).toBe('httpCheck.host')
    expect(http({ host: 'evil.com/x' })).toBe('httpCheck.host')
    expect(http({ headers: { Host: 'x' } })).toBe('httpCheck.headers.Host')
    expect(http({ headers: { connection: 'keep-alive' } })).toBe('httpCheck.headers.connection')
    expect(http({ headers: { 'x-a': 'a\r\nb: c' } })).toBe('httpCheck.headers.x-a')
    expect(http({ headers: { 'bad name': 'x' } })).toBe('httpCheck.headers.bad name')
    expect(http({ headers: { constructor: 'fine', 'x-a': 1 } })).toBe('httpCheck.headers.x-a')
    expect(http({ expectStatus: 600 })).toBe('httpCheck.expectStatus')
    expect(http({ expectStatus: [] })).toBe('httpCheck.expectStatus')
    expect(http({ expectStatus: [300, 200] })).toBe('httpCheck.expectStatus')
    expect(http({ expectStatus: [200, [204], 304] })).toBe('httpCheck.expectStatus[1]')
    expect(http({ failStatus: [500, 'x'] })).toBe('httpCheck.failStatus[1]')
    expect(http({ body: 42 })).toBe('httpCheck.body')
    expect(http({ maxBodyBytes: 0 })).toBe('httpCheck.maxBodyBytes')
    expect(http({ scheme: 'ftp' })).toBe('httpCheck.scheme')
    expect(http({ tls: { verify: false } })).toBe('httpCheck.tls.verify')
    expect(http({ tls: { rejectUnauthorized: 'no' } })).toBe('httpCheck.tls.rejectUnauthorized')
    expect(http({ tls: { ca: ['pem', 1] } })).toBe('httpCheck.tls.ca[1]')
    expect(http({ reuseConnection: 1 })).toBe('httpCheck.reuseConnection')
  })

  it('accepts good options', () => {
    expect(
      http({
        intervalMs: 10_000,
        unhealthyIntervalMs: 1_000,
        timeoutMs: 999,
        path: '/healthz?full=1',
        method: 'HEAD',
        host: 'api.internal:8443',
        headers: { 'user-agent': 'fulcrum-health', constructor: 'ok' },
        expectStatus: [[200, 204], 304],
        failStatus: 503,
        body: /UP/,
        scheme: 'https',
        tls: { rejectUnauthorized: false, servername: 'api.internal', ca: 'pem' },
        reuseConnection: true,
      }),
    ).toBeUndefined()
  })
})

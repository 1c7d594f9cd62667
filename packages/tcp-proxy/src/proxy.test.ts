import { createBalancer, InvalidOptionError, parseTrustList, unmapIPv4 } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { applyProxyHeader, contextOf, proxyAddressesOf, proxyVersionFor } from './addresses.js'
import { createTcpProxy } from './proxy.js'
import type { ProxyHeader } from './types.js'

const lb = createBalancer().backends(['127.0.0.1:1']).build()

function pathOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof InvalidOptionError) return err.path
    throw err
  }
  return undefined
}

describe('createTcpProxy options', () => {
  it('rejects bad options with the path of the option', () => {
    expect(pathOf(() => createTcpProxy(lb, { connectTimeoutMs: 0 }))).toBe('tcpProxy.connectTimeoutMs')
    expect(pathOf(() => createTcpProxy(lb, { connectTimeoutMs: 1.5 }))).toBe('tcpProxy.connectTimeoutMs')
    expect(pathOf(() => createTcpProxy(lb, { retries: -1 }))).toBe('tcpProxy.retries')
    expect(pathOf(() => createTcpProxy(lb, { idleTimeoutMs: -1 }))).toBe('tcpProxy.idleTimeoutMs')
    expect(pathOf(() => createTcpProxy(lb, { noDelay: 'yes' as never }))).toBe('tcpProxy.noDelay')
    expect(pathOf(() => createTcpProxy(lb, { sendProxyProtocol: 3 as never }))).toBe(
      'tcpProxy.sendProxyProtocol',
    )
    expect(pathOf(() => createTcpProxy(lb, { key: 'ip' as never }))).toBe('tcpProxy.key')
    expect(pathOf(() => createTcpProxy(lb, { sni: { timeoutMs: 0 } }))).toBe('tcpProxy.sni.timeoutMs')
    expect(pathOf(() => createTcpProxy(lb, { faults: {} as never }))).toBe('tcpProxy.faults.blackhole')
    expect(pathOf(() => createTcpProxy(lb, { wat: 1 } as never))).toBe('tcpProxy.wat')
    expect(pathOf(() => createTcpProxy(lb, { acceptProxyProtocol: { trusted: 'x' as never } }))).toBe(
      'tcpProxy.acceptProxyProtocol.trusted',
    )
    expect(
      pathOf(() => createTcpProxy(lb, { acceptProxyProtocol: { trusted: ['10.0.0.1', '10.0.0.0/33'] } })),
    ).toBe('tcpProxy.acceptProxyProtocol.trusted[1]')
    expect(pathOf(() => createTcpProxy(lb, { acceptProxyProtocol: { trusted: [], timeoutMs: -5 } }))).toBe(
      'tcpProxy.acceptProxyProtocol.timeoutMs',
    )
  })

  it('takes a balancer, or options with a route, not both', () => {
    expect(pathOf(() => createTcpProxy(lb, { route: () => lb }))).toBe('tcpProxy.route')
    expect(pathOf(() => createTcpProxy({} as never))).toBe('tcpProxy.route')
    expect(pathOf(() => createTcpProxy({ route: () => lb }))).toBeUndefined()
  })

  it('validates listen() and close() options', async () => {
    const proxy = createTcpProxy(lb)
    expect(pathOf(() => proxy.listen(70_000))).toBe('tcpProxy.listen.port')
    expect(pathOf(() => proxy.listen({ port: 0, hots: 'x' } as never))).toBe('tcpProxy.listen.hots')
    expect(pathOf(() => proxy.close({ graceMs: -1 }))).toBe('tcpProxy.close.graceMs')
    await proxy.close()
    expect(proxy.closed).toBe(true)
  })
})

describe('addresses', () => {
  it('unmaps IPv4-mapped IPv6 addresses only', () => {
    expect(unmapIPv4('::ffff:10.0.0.1')).toBe('10.0.0.1')
    expect(unmapIPv4('::FFFF:10.0.0.1')).toBe('10.0.0.1')
    expect(unmapIPv4('::ffff:abcd')).toBe('::ffff:abcd')
    expect(unmapIPv4('2001:db8::1')).toBe('2001:db8::1')
  })

  it('announces TCP4, TCP6, or UNKNOWN for mixed families', () => {
    const base = { key: undefined, remotePort: 1, localPort: 2, serverName: undefined, proxied: undefined }
    expect(proxyAddressesOf({ ...base, remoteAddress: '10.0.0.1', localAddress: '10.0.0.2' }).family).toBe(
      'TCP4',
    )
    expect(proxyAddressesOf({ ...base, remoteAddress: '::1', localAddress: '::2' }).family).toBe('TCP6')
    expect(proxyAddressesOf({ ...base, remoteAddress: '10.0.0.1', localAddress: '::2' }).family).toBe(
      'UNKNOWN',
    )
  })

  it('applies a PROXY header, except LOCAL and UNKNOWN ones', () => {
    const ctx = contextOf({
      remoteAddress: '::ffff:127.0.0.1',
      remotePort: 5,
      localAddress: '127.0.0.1',
      localPort: 6,
    } as never)
    expect(ctx).toMatchObject({ remoteAddress: '127.0.0.1', remotePort: 5 })
    const header: ProxyHeader = {
      version: 2,
      local: false,
      family: 'TCP4',
      sourceAddress: '192.0.2.1',
      sourcePort: 1000,
      destinationAddress: '192.0.2.2',
      destinationPort: 443,
      tlvs: new Map(),
    }
    applyProxyHeader(ctx, { ...header, local: true })
    expect(ctx.remoteAddress).toBe('127.0.0.1')
    applyProxyHeader(ctx, header)
    expect(ctx).toMatchObject({
      remoteAddress: '192.0.2.1',
      remotePort: 1000,
      localAddress: '192.0.2.2',
      localPort: 443,
    })
    expect(ctx.proxied).toBe(header)
  })

  it("picks the backend's meta.proxyProtocol over the default", () => {
    const b = (meta: Record<string, unknown>) =>
      createBalancer()
        .backends([{ host: '10.0.0.1', port: 1, meta }])
        .build()
        .backends()[0]!
    expect(proxyVersionFor(b({}), 1)).toBe(1)
    expect(proxyVersionFor(b({ proxyProtocol: 2 }), 1)).toBe(2)
    expect(proxyVersionFor(b({ proxyProtocol: 0 }), 1)).toBeUndefined()
    expect(proxyVersionFor(b({ proxyProtocol: false }), 2)).toBeUndefined()
    expect(proxyVersionFor(b({ proxyProtocol: 1 }), undefined)).toBe(1)
  })
})

describe('trusted peers', () => {
  it('matches exact IPs and CIDR subnets, IPv4-mapped peers included', () => {
    const t = parseTrustList('trusted', ['10.0.0.5', '192.168.0.0/16', '2001:db8::/32', '::1'])
    expect(t.has('10.0.0.5')).toBe(true)
    expect(t.has('::ffff:10.0.0.5')).toBe(true)
    expect(t.has('10.0.0.6')).toBe(false)
    expect(t.has('192.168.44.1')).toBe(true)
    expect(t.has('2001:db8:1::9')).toBe(true)
    expect(t.has('::1')).toBe(true)
    expect(t.has('::2')).toBe(false)
    expect(t.has(undefined)).toBe(false)
    expect(t.has('not an ip')).toBe(false)
  })

  it('rejects entries that are neither', () => {
    expect(pathOf(() => parseTrustList('t', ['10.0.0.1/x']))).toBe('t[0]')
    expect(pathOf(() => parseTrustList('t', ['localhost']))).toBe('t[0]')
    expect(pathOf(() => parseTrustList('t', ['::/129']))).toBe('t[0]')
    expect(pathOf(() => parseTrustList('t', [42]))).toBe('t[0]')
  })
})

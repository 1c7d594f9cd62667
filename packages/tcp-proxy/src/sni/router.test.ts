import * as net from 'node:net'
import * as tls from 'node:tls'
import { createBalancer, InvalidOptionError } from '@fulcrum/core'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { ConnectionErrorEvent } from '../events.js'
import type { TcpProxy } from '../proxy.js'
import { createSniProxy, sniRouter } from './router.js'

describe('sniRouter', () => {
  const route = sniRouter(
    {
      'api.example.com': 'api',
      '*.example.com': 'star',
      '*.b.example.com': 'star-b',
      'Exact.Upper.Test': 'upper',
    },
    'fallback',
  )

  it('matches exact names first', () => {
    expect(route('api.example.com')).toBe('api')
    expect(route('exact.upper.test')).toBe('upper')
  })

  it('matches a wildcard for exactly one label', () => {
    expect(route('www.example.com')).toBe('star')
    expect(route('a.b.example.com')).toBe('star-b') // its own one-label wildcard
    expect(route('x.a.example.com')).toBe('fallback') // two labels below *.example.com
    expect(route('example.com')).toBe('fallback') // the bare domain is not covered
    expect(route('.example.com')).toBe('fallback')
    expect(route('b.example.com')).toBe('star')
  })

  it('is case-insensitive for names and keys', () => {
    expect(route('API.Example.COM')).toBe('api')
    expect(route('WWW.EXAMPLE.COM')).toBe('star')
    expect(route('EXACT.upper.TEST')).toBe('upper')
  })

  it('falls back for unknown names and connections without SNI', () => {
    expect(route('other.test')).toBe('fallback')
    expect(route(undefined)).toBe('fallback')
    expect(route('')).toBe('fallback')
  })

  it('returns undefined without a fallback', () => {
    const strict = sniRouter({ 'a.test': 1 })
    expect(strict('a.test')).toBe(1)
    expect(strict('b.test')).toBeUndefined()
    expect(strict(undefined)).toBeUndefined()
  })

  it('keeps falsy targets', () => {
    const r = sniRouter<number | string>({ 'zero.test': 0, 'empty.test': '' }, 7)
    expect(r('zero.test')).toBe(0)
    expect(r('empty.test')).toBe('')
  })

  it('rejects bad keys with InvalidOptionError naming routes["key"]', () => {
    const bad = [
      'bad key',
      '',
      '*',
      '*.',
      '**.example.com',
      'a.*.example.com',
      '*a.example.com',
      '-a.example.com',
      'a.example.com.',
      '1.2.3.4',
      '::1',
      'x'.repeat(64),
    ]
    for (const key of bad) {
      let caught: unknown
      try {
        sniRouter({ [key]: 1 })
      } catch (err) {
        caught = err
      }
      expect(caught, JSON.stringify(key)).toBeInstanceOf(InvalidOptionError)
      expect((caught as InvalidOptionError).path).toBe(`routes[${JSON.stringify(key)}]`)
      expect((caught as InvalidOptionError).code).toBe('FULCRUM_ERR_INVALID_OPTION')
    }
  })

  it('rejects keys that differ only in case, undefined targets and a non-object', () => {
    expect(() => sniRouter({ 'a.test': 1, 'A.TEST': 2 })).toThrow(/routes\["A.TEST"\].*case-insensitive/)
    expect(() => sniRouter({ '*.a.test': 1, '*.A.test': 2 })).toThrow(InvalidOptionError)
    expect(() => sniRouter({ 'a.test': undefined })).toThrow(/routes\["a.test"\]/)
    expect(() => sniRouter(null as never)).toThrow(/Invalid option routes: expected an object/)
    expect(() => sniRouter([] as never)).toThrow(InvalidOptionError)
  })

  it('allows an exact name and a wildcard over the same domain', () => {
    const r = sniRouter({ 'example.com': 'apex', '*.example.com': 'sub' })
    expect(r('example.com')).toBe('apex')
    expect(r('a.example.com')).toBe('sub')
  })
})

// ---------------------------------------------------------------------------------------------
// createSniProxy over real loopback sockets (the ClientHellos are real node:tls ones).

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function listen(server: net.Server): Promise<number> {
  cleanups.push(() => server.close())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as net.AddressInfo).port
}

/** A backend that says its name, then echoes every byte; ends when the client does. */
async function namedEcho(name: string): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {})
    cleanups.push(() => socket.destroy())
    socket.write(`${name}\n`)
    socket.pipe(socket)
  })
  return listen(server)
}

const balancerFor = (port: number) =>
  createBalancer()
    .backends([{ id: `b${port}`, host: '127.0.0.1', port }])
    .build()

async function capture(servername: string | undefined): Promise<Buffer> {
  let resolveHello!: (b: Buffer) => void
  const got = new Promise<Buffer>((r) => (resolveHello = r))
  const server = net.createServer((socket) => {
    cleanups.push(() => socket.destroy())
    let buf = Buffer.alloc(0)
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3))
        resolveHello(buf.subarray(0, 5 + buf.readUInt16BE(3)))
    })
  })
  const port = await listen(server)
  const c = tls.connect({
    host: '127.0.0.1',
    port,
    rejectUnauthorized: false,
    ...(servername ? { servername } : {}),
  })
  c.on('error', () => {})
  cleanups.push(() => c.destroy())
  return got
}

/** Sends `bytes` through the proxy, half-closes, and returns everything that came back. */
function roundTrip(port: number, bytes: Buffer): Promise<{ data: Buffer; error: string | undefined }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let error: string | undefined
    const c = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => c.end(bytes))
    cleanups.push(() => c.destroy())
    c.on('data', (d: Buffer) => chunks.push(d))
    c.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message))
    c.on('close', () => resolve({ data: Buffer.concat(chunks), error }))
  })
}

describe('createSniProxy', () => {
  const hellos = new Map<string, Buffer>()
  beforeAll(async () => {
    for (const name of ['a.example.test', 'x.w.example.test', 'other.test', 'y.x.w.example.test'])
      hellos.set(name, await capture(name))
    hellos.set('-', await capture(undefined))
  })

  async function proxyWith(
    withDefault: boolean,
  ): Promise<{ proxy: TcpProxy; port: number; errors: ConnectionErrorEvent[] }> {
    const routes = {
      'a.example.test': balancerFor(await namedEcho('A')),
      '*.w.example.test': balancerFor(await namedEcho('W')),
    }
    const proxy = createSniProxy(routes, {
      ...(withDefault ? { default: balancerFor(await namedEcho('D')) } : {}),
      sni: { timeoutMs: 2_000 },
      connectTimeoutMs: 2_000,
    })
    cleanups.push(() => proxy.close())
    const errors: ConnectionErrorEvent[] = []
    proxy.on('connection:error', (e) => errors.push(e))
    const { port } = await proxy.listen({ port: 0, host: '127.0.0.1' })
    return { proxy, port, errors }
  }

  it('routes by name, wildcard and default, relaying the ClientHello and what follows byte for byte', async () => {
    const { port } = await proxyWith(true)
    const tail = Buffer.from('\x17\x03\x03\x00\x04tail')
    for (const [name, backend] of [
      ['a.example.test', 'A'],
      ['x.w.example.test', 'W'],
      ['y.x.w.example.test', 'D'],
      ['other.test', 'D'],
      ['-', 'D'],
    ] as const) {
      const sent = Buffer.concat([hellos.get(name)!, tail])
      const { data } = await roundTrip(port, sent)
      expect(data.subarray(0, 2).toString(), name).toBe(`${backend}\n`)
      expect(data.subarray(2).equals(sent), name).toBe(true)
    }
  })

  it('closes unmatched connections without a default (no-route) and non-TLS ones (sni)', async () => {
    const { port, errors } = await proxyWith(false)
    const unmatched = await roundTrip(port, hellos.get('other.test')!)
    expect(unmatched.data.length).toBe(0)
    const plain = await roundTrip(port, Buffer.from('GET / HTTP/1.1\r\n\r\n'))
    expect(plain.data.length).toBe(0)
    expect(errors.map((e) => e.reason)).toEqual(['no-route', 'sni'])
    expect((await roundTrip(port, hellos.get('a.example.test')!)).data.subarray(0, 2).toString()).toBe('A\n')
  })

  it('validates routes, default and the proxy options', () => {
    const lb = balancerFor(1)
    const path = (fn: () => unknown): string => {
      try {
        fn()
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidOptionError)
        return (err as InvalidOptionError).path
      }
      return 'no throw'
    }
    expect(path(() => createSniProxy({ 'bad key': lb }))).toBe('routes["bad key"]')
    expect(path(() => createSniProxy({ 'a.test': {} as never }))).toBe('routes["a.test"]')
    expect(path(() => createSniProxy({ 'a.test': lb }, { default: 'x' as never }))).toBe('default')
    expect(path(() => createSniProxy({ 'a.test': lb }, { route: () => lb } as never))).toBe('tcpProxy.route')
    expect(path(() => createSniProxy({ 'a.test': lb }, { sni: false as never }))).toBe('tcpProxy.sni')
    expect(path(() => createSniProxy({ 'a.test': lb }, { sni: { timeoutMs: 0 } }))).toBe(
      'tcpProxy.sni.timeoutMs',
    )
    expect(path(() => createSniProxy({ 'a.test': lb }, { nope: 1 } as never))).toBe('tcpProxy.nope')
  })
})

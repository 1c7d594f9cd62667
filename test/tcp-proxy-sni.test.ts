/**
 * TLS through the proxy: passthrough routed by the ClientHello's server name (two names and a
 * default, node:tls clients, TLS backends), and TLS terminated in front of the proxy with
 * `handle()`. Needs `openssl` to make a test certificate (skipped without it).
 */
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net, { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { createBalancer } from '@fulcrum/core'
import { type ConnectionErrorEvent, createTcpProxy, sniRouter, tlsTerminator } from '@fulcrum/tcp-proxy'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Harness, HOST, received } from './tcp-proxy-helpers.js'

const HAS_OPENSSL = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

const h = new Harness()
afterEach(() => h.closeAll())
const tlsServers: tls.Server[] = []
afterEach(async () => {
  await Promise.all(tlsServers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
})

describe.skipIf(!HAS_OPENSSL)('tcp proxy with TLS', () => {
  let dir: string
  let key: Buffer
  let cert: Buffer
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fulcrum-tcp-sni-'))
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
        ...['-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=test'],
      ],
      { stdio: 'ignore' },
    )
    key = readFileSync(join(dir, 'k.pem'))
    cert = readFileSync(join(dir, 'c.pem'))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  /** A TLS backend that answers every connection with its name and the SNI it saw. */
  async function tlsBackend(name: string): Promise<number> {
    const server = tls.createServer({ key, cert }, (s) => {
      s.on('error', () => {})
      s.end(`${name} (sni ${(s as tls.TLSSocket & { servername?: string | false }).servername || '-'})`)
    })
    tlsServers.push(server)
    server.listen(0, HOST)
    await once(server, 'listening')
    return (server.address() as AddressInfo).port
  }

  function ask(port: number, servername: string | undefined): Promise<string> {
    return new Promise((resolve, reject) => {
      const c = tls.connect({
        host: HOST,
        port,
        rejectUnauthorized: false,
        ...(servername === undefined ? {} : { servername }),
      })
      let text = ''
      c.setEncoding('utf8')
      c.on('data', (d: string) => (text += d))
      c.on('end', () => resolve(text))
      c.on('error', reject)
    })
  }

  it('passthrough routed by SNI: two names, a wildcard and a default; the bytes reach the backend untouched', async () => {
    const [a, b, fallback] = await Promise.all([tlsBackend('a'), tlsBackend('b'), tlsBackend('default')])
    const lbOf = (id: string, port: number) =>
      createBalancer<import('@fulcrum/tcp-proxy').TcpContext>()
        .backends([{ id, host: HOST, port }])
        .build()
    const byName = sniRouter(
      { 'a.example.test': lbOf('a', a), '*.b.example.test': lbOf('b', b) },
      lbOf('default', fallback),
    )
    const proxy = createTcpProxy({ sni: true, route: (ctx) => byName(ctx.serverName) })
    const port = await h.listen(proxy)
    const names: (string | undefined)[] = []
    proxy.on('connection:open', (e) => names.push(e.ctx.serverName))
    expect(await ask(port, 'a.example.test')).toBe('a (sni a.example.test)')
    expect(await ask(port, 'x.b.example.test')).toBe('b (sni x.b.example.test)')
    expect(await ask(port, 'other.example.test')).toBe('default (sni other.example.test)')
    expect(await ask(port, undefined)).toBe('default (sni -)')
    expect(names).toEqual(['a.example.test', 'x.b.example.test', 'other.example.test', undefined])
  })

  it('a connection that is not TLS is closed with reason sni; no route closes with no-route', async () => {
    const a = await tlsBackend('a')
    const lb = createBalancer<import('@fulcrum/tcp-proxy').TcpContext>()
      .backends([{ id: 'a', host: HOST, port: a }])
      .build()
    const byName = sniRouter({ 'a.example.test': lb })
    const proxy = createTcpProxy({ sni: { timeoutMs: 500 }, route: (ctx) => byName(ctx.serverName) })
    const port = await h.listen(proxy)
    const errors: ConnectionErrorEvent[] = []
    proxy.on('connection:error', (e) => errors.push(e))
    const plain = h.client(port)
    plain.write('GET / HTTP/1.1\r\n\r\n')
    await received(plain)
    // Closed during the handshake: nothing is answered (the client sees an end or an error).
    expect(await ask(port, 'unknown.example.test').catch(() => '')).toBe('')
    expect(errors.map((e) => e.reason)).toEqual(['sni', 'no-route'])
  })

  it('TLS terminated in front of the proxy: handle() relays the plaintext to a plain backend', async () => {
    const echo = await h.echo()
    const lb = createBalancer()
      .backends([{ id: 'echo', host: HOST, port: echo.port }])
      .build()
    const proxy = createTcpProxy(lb)
    const terminator = tlsTerminator({ certificates: { 'a.example.test': { key, cert } } })
    const front = net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('error', () => {})
      const secure = terminator.wrap(socket)
      secure.on('error', () => socket.destroy())
      secure.on('secure', () => proxy.handle(secure))
    })
    front.listen(0, HOST)
    await once(front, 'listening')
    const closeFront = () => new Promise((resolve) => front.close(resolve))
    try {
      const c = tls.connect({
        host: HOST,
        port: (front.address() as AddressInfo).port,
        servername: 'a.example.test',
        rejectUnauthorized: false,
      })
      await once(c, 'secureConnect')
      c.write('over tls')
      const [chunk] = (await once(c, 'data')) as [Buffer]
      expect(chunk.toString()).toBe('over tls')
      c.destroy()
    } finally {
      await proxy.close()
      await closeFront()
    }
  })
})

import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tls from 'node:tls'
import { createBalancer, InvalidOptionError } from '@fulcrum/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { peekServerName } from '../sni/peek.js'
import { createSniProxy, sniRouter } from '../sni/router.js'
import { NoCertificateError, type TlsCertificate, tlsTerminator } from './terminate.js'

const HAS_OPENSSL = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

const NAMES = ['a.example.test', 'b.example.test', '*.w.example.test', 'default.example.test'] as const
type CertName = (typeof NAMES)[number]

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function listen(server: net.Server): Promise<number> {
  cleanups.push(() => server.close())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as net.AddressInfo).port
}

interface Handshake {
  readonly cn: string
  readonly alpn: string | false | null | undefined
  readonly socket: tls.TLSSocket
}

/** Connects a node:tls client and resolves on secureConnect with the server certificate's CN. */
function connect(port: number, options: tls.ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () =>
      resolve({ cn: String(c.getPeerCertificate().subject?.CN), alpn: c.alpnProtocol, socket: c }),
    )
    c.on('error', reject)
    cleanups.push(() => c.destroy())
  })
}

describe.skipIf(!HAS_OPENSSL)(
  'tlsTerminator (needs `openssl` on PATH to make test certificates; skipped without it)',
  () => {
    let dir: string
    const certs = {} as Record<CertName, TlsCertificate>

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'fulcrum-tls-'))
      for (const [i, name] of NAMES.entries()) {
        const keyFile = join(dir, `${i}.key`)
        const certFile = join(dir, `${i}.crt`)
        execFileSync(
          'openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'ec',
            '-pkeyopt',
            'ec_paramgen_curve:prime256v1',
            '-nodes',
            '-days',
            '2',
            '-subj',
            `/CN=${name}`,
            '-addext',
            `subjectAltName=DNS:${name}`,
            '-keyout',
            keyFile,
            '-out',
            certFile,
          ],
          { stdio: 'ignore' },
        )
        certs[name] = { key: readFileSync(keyFile), cert: readFileSync(certFile, 'utf8') }
      }
    })
    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    /** A terminating server: wraps each socket, answers `hello <servername>` and echoes what it gets. */
    async function terminatingServer(
      terminator: ReturnType<typeof tlsTerminator>,
      onError: (err: Error) => void = () => {},
    ): Promise<number> {
      const server = net.createServer((socket) => {
        socket.on('error', () => {})
        cleanups.push(() => socket.destroy())
        const t = terminator.wrap(socket)
        t.on('error', (err) => {
          onError(err)
          socket.destroy()
        })
        t.on('secure', () => t.write(`hello ${t.servername || '-'} ${t.alpnProtocol || '-'}\n`))
        t.on('data', (d: Buffer) => t.write(d))
      })
      return listen(server)
    }

    const standard = () =>
      tlsTerminator({
        certificates: {
          'a.example.test': certs['a.example.test'],
          'B.Example.Test': certs['b.example.test'],
          '*.w.example.test': certs['*.w.example.test'],
          'default.example.test': certs['default.example.test'],
        },
        default: 'default.example.test',
      })

    it('serves each name its own certificate, wildcards for one label, the default otherwise', async () => {
      const port = await terminatingServer(standard())
      const cn = async (servername?: string) =>
        (await connect(port, servername === undefined ? {} : { servername })).cn
      expect(await cn('a.example.test')).toBe('a.example.test')
      expect(await cn('b.example.test')).toBe('b.example.test')
      expect(await cn('B.EXAMPLE.test')).toBe('b.example.test')
      expect(await cn('x.w.example.test')).toBe('*.w.example.test')
      expect(await cn('y.x.w.example.test')).toBe('default.example.test')
      expect(await cn('unknown.example.test')).toBe('default.example.test')
      expect(await cn(undefined)).toBe('default.example.test') // no SNI at all
    })

    it('terminates: plaintext flows both ways and the server sees the name', async () => {
      const port = await terminatingServer(standard())
      const { socket } = await connect(port, { servername: 'a.example.test' })
      socket.write('ping')
      const got = await new Promise<string>((resolve) => {
        let text = ''
        socket.on('data', (d: Buffer) => {
          text += d.toString()
          if (text.endsWith('ping')) resolve(text)
        })
      })
      expect(got).toBe('hello a.example.test -\nping')
    })

    it('without a default, an unknown name fails with NoCertificateError and no SNI fails the handshake', async () => {
      const errors: Error[] = []
      const terminator = tlsTerminator({ certificates: { 'a.example.test': certs['a.example.test'] } })
      expect(terminator.secureContextFor('zzz.test')).toBeUndefined()
      expect(terminator.secureContextFor(undefined)).toBeUndefined()
      const port = await terminatingServer(terminator, (e) => errors.push(e))
      expect((await connect(port, { servername: 'a.example.test' })).cn).toBe('a.example.test')
      await expect(connect(port, { servername: 'zzz.test' })).rejects.toThrow()
      await expect(connect(port)).rejects.toThrow()
      const noCert = errors.find((e) => e instanceof NoCertificateError) as NoCertificateError | undefined
      expect(noCert?.serverName).toBe('zzz.test')
      expect(noCert?.code).toBe('FULCRUM_ERR_TLS_NO_CERTIFICATE')
    })

    it('negotiates ALPN', async () => {
      const terminator = tlsTerminator({
        certificates: { 'a.example.test': certs['a.example.test'] },
        alpn: ['h2', 'http/1.1'],
      })
      const port = await terminatingServer(terminator)
      expect((await connect(port, { servername: 'a.example.test', ALPNProtocols: ['http/1.1'] })).alpn).toBe(
        'http/1.1',
      )
      expect(
        (await connect(port, { servername: 'a.example.test', ALPNProtocols: ['h2', 'http/1.1'] })).alpn,
      ).toBe('h2')
    })

    it('enforces minVersion', async () => {
      const terminator = tlsTerminator({
        certificates: { 'a.example.test': certs['a.example.test'] },
        default: 'a.example.test',
        minVersion: 'TLSv1.3',
      })
      const port = await terminatingServer(terminator)
      await expect(connect(port, { servername: 'a.example.test', maxVersion: 'TLSv1.2' })).rejects.toThrow()
      const ok = await connect(port, { servername: 'a.example.test' })
      expect(ok.socket.getProtocol()).toBe('TLSv1.3')
    })

    it('builds each context once and looks them up by the router rules', () => {
      const t = standard()
      const a = t.secureContextFor('a.example.test')
      expect(a).toBeDefined()
      expect(t.secureContextFor('A.EXAMPLE.TEST')).toBe(a)
      expect(t.secureContextFor('b.example.test')).toBe(t.secureContextFor('B.example.test'))
      expect(t.secureContextFor('q.w.example.test')).not.toBe(t.secureContextFor(undefined))
      expect(t.secureContextFor('nope.test')).toBe(t.secureContextFor('default.example.test'))
      expect(t.secureContextFor(undefined)).toBe(t.secureContextFor('default.example.test'))
    })

    it('terminates after peekServerName: the put-back ClientHello is read by TLS', async () => {
      const terminator = standard()
      const peeked: (string | undefined)[] = []
      const server = net.createServer(async (socket) => {
        socket.on('error', () => {})
        cleanups.push(() => socket.destroy())
        peeked.push(await peekServerName(socket, 2_000))
        const t = terminator.wrap(socket)
        t.on('error', () => socket.destroy())
      })
      const port = await listen(server)
      expect((await connect(port, { servername: 'b.example.test' })).cn).toBe('b.example.test')
      expect(peeked).toEqual(['b.example.test'])
    })

    it('passthrough: peek, route by name to TLS backends, relay untouched', async () => {
      const backend = async (name: CertName): Promise<number> => {
        const s = tls.createServer({ ...certs[name] }, (c) => {
          c.on('error', () => {})
          c.end(`from ${name}`)
        })
        return listen(s)
      }
      const route = sniRouter(
        {
          'a.example.test': await backend('a.example.test'),
          '*.w.example.test': await backend('*.w.example.test'),
        },
        await backend('default.example.test'),
      )
      const front = net.createServer(async (socket) => {
        socket.on('error', () => {})
        cleanups.push(() => socket.destroy())
        try {
          const port = route(await peekServerName(socket, 2_000))!
          const upstream = net.connect({ host: '127.0.0.1', port })
          upstream.on('error', () => socket.destroy())
          cleanups.push(() => upstream.destroy())
          socket.pipe(upstream).pipe(socket)
        } catch {
          socket.destroy()
        }
      })
      const port = await listen(front)
      expect((await connect(port, { servername: 'a.example.test' })).cn).toBe('a.example.test')
      expect((await connect(port, { servername: 'k.w.example.test' })).cn).toBe('*.w.example.test')
      expect((await connect(port, { servername: 'other.test' })).cn).toBe('default.example.test')
      expect((await connect(port)).cn).toBe('default.example.test')
    })

    it('createSniProxy: real TLS clients for two names and a default reach their own backends', async () => {
      const backend = async (name: CertName) => {
        const s = tls.createServer({ ...certs[name] }, (c) => {
          c.on('error', () => {})
          c.end(`from ${name}`)
        })
        const port = await listen(s)
        return createBalancer()
          .backends([{ id: name, host: '127.0.0.1', port }])
          .build()
      }
      const proxy = createSniProxy(
        {
          'a.example.test': await backend('a.example.test'),
          'b.example.test': await backend('b.example.test'),
        },
        { default: await backend('default.example.test') },
      )
      cleanups.push(() => proxy.close())
      const { port } = await proxy.listen({ port: 0, host: '127.0.0.1' })
      const greeting = async (servername?: string) => {
        const { cn, socket } = await connect(port, servername === undefined ? {} : { servername })
        const text = await new Promise<string>((resolve) => {
          let t = ''
          socket.on('data', (d: Buffer) => (t += d.toString()))
          socket.on('end', () => resolve(t))
        })
        return `${cn} ${text}`
      }
      expect(await greeting('a.example.test')).toBe('a.example.test from a.example.test')
      expect(await greeting('B.example.TEST')).toBe('b.example.test from b.example.test')
      expect(await greeting('c.example.test')).toBe('default.example.test from default.example.test')
      expect(await greeting()).toBe('default.example.test from default.example.test')
    })

    it('rejects bad options with InvalidOptionError and a path', () => {
      const a = certs['a.example.test']
      const path = (fn: () => unknown): string => {
        try {
          fn()
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidOptionError)
          return (err as InvalidOptionError).path
        }
        return 'no throw'
      }
      expect(path(() => tlsTerminator({ certificates: { 'bad key': a } }))).toBe('certificates["bad key"]')
      expect(path(() => tlsTerminator({ certificates: {} }))).toBe('certificates')
      expect(
        path(() =>
          tlsTerminator({
            certificates: { 'a.example.test': { key: certs['b.example.test'].key, cert: a.cert } },
          }),
        ),
      ).toBe('certificates["a.example.test"]')
      expect(
        path(() => tlsTerminator({ certificates: { 'a.example.test': { key: 'nope', cert: a.cert } } })),
      ).toBe('certificates["a.example.test"]')
      expect(
        path(() => tlsTerminator({ certificates: { 'a.example.test': { key: '', cert: a.cert } } })),
      ).toBe('certificates["a.example.test"].key')
      expect(
        path(() =>
          tlsTerminator({ certificates: { 'a.example.test': { ...a, ca: 'x' } as TlsCertificate } }),
        ),
      ).toBe('certificates["a.example.test"].ca')
      expect(
        path(() => tlsTerminator({ certificates: { 'a.example.test': a }, default: 'b.example.test' })),
      ).toBe('default')
      expect(
        path(() =>
          tlsTerminator({ certificates: { 'a.example.test': a }, minVersion: 'SSLv3' as tls.SecureVersion }),
        ),
      ).toBe('minVersion')
      expect(path(() => tlsTerminator({ certificates: { 'a.example.test': a }, alpn: [''] }))).toBe('alpn[0]')
      expect(path(() => tlsTerminator({ certificates: { 'a.example.test': a }, alpn: [] }))).toBe('alpn')
      expect(path(() => tlsTerminator({ certificates: { 'a.example.test': a }, sni: true } as never))).toBe(
        'sni',
      )
      // The default may name a wildcard entry, in any case.
      expect(() =>
        tlsTerminator({
          certificates: { '*.w.example.test': certs['*.w.example.test'] },
          default: '*.W.example.test',
        }),
      ).not.toThrow()
    })
  },
)

import type * as net from 'node:net'
import * as tls from 'node:tls'
import {
  checkArray,
  checkKeys,
  checkObject,
  checkOneOf,
  checkString,
  FulcrumError,
  InvalidOptionError,
} from '@fulcrum/core'
import { buildNameTable, lookupName } from '../sni/names.js'

/**
 * A PEM private key and certificate (chain: leaf first) for one server name, as given to
 * `tls.createSecureContext()`.
 *
 * @example
 * ```ts
 * const cert: TlsCertificate = { key: fs.readFileSync('a.key'), cert: fs.readFileSync('a.crt') }
 * ```
 */
export interface TlsCertificate {
  /** PEM private key (unencrypted). */
  readonly key: string | Buffer
  /** PEM certificate, optionally followed by its intermediates. */
  readonly cert: string | Buffer
}

/**
 * Options of {@link tlsTerminator}.
 *
 * @example
 * ```ts
 * const options: TlsTerminatorOptions = { certificates: { 'a.example.com': cert }, default: 'a.example.com' }
 * ```
 */
export interface TlsTerminatorOptions {
  /**
   * Server name → key and certificate. Keys are exact DNS host names (`a.example.com`) or one-label
   * wildcards (`*.example.com`, matching `a.example.com` only), case-insensitive, as in
   * `sniRouter()`. At least one.
   */
  readonly certificates: Readonly<Record<string, TlsCertificate>>
  /**
   * The key in `certificates` whose certificate is served to clients that send no SNI or a name
   * no entry matches. Without it, those clients fail the handshake.
   * @default undefined (no default certificate)
   */
  readonly default?: string
  /** Oldest TLS version accepted. @default 'TLSv1.2' */
  readonly minVersion?: tls.SecureVersion
  /**
   * ALPN protocols the server accepts, in its order of preference (e.g. `['h2', 'http/1.1']`).
   * @default undefined (no ALPN negotiation)
   */
  readonly alpn?: readonly string[]
}

/**
 * What {@link tlsTerminator} returns: context lookup, socket wrapping, and the `SNICallback` for
 * servers built with `tls.createServer()`.
 *
 * @example
 * ```ts
 * const tlsSocket = terminator.wrap(socket)
 * const server = tls.createServer({ SNICallback: terminator.sniCallback })
 * ```
 */
export interface TlsTerminator {
  /**
   * The secure context for `serverName`: the exact name's, else its one-label wildcard's, else the
   * default's, else `undefined`. `undefined` input (no SNI) gets the default. Contexts are built
   * once, in `tlsTerminator()`.
   */
  secureContextFor(serverName: string | undefined): tls.SecureContext | undefined
  /**
   * Wraps an accepted plain socket as a server-side `TLSSocket` that picks its certificate by SNI.
   * Bytes already buffered on `socket` (e.g. put back by `peekServerName()`) are fed to TLS first.
   * Listen for `secure` (then `tlsSocket.servername` and `tlsSocket.alpnProtocol` are set) and
   * `error` (handshake failures; `NoCertificateError` for a name without a certificate). The
   * handshake has no timeout of its own: keep the proxy's.
   */
  wrap(socket: net.Socket): tls.TLSSocket
  /** The `SNICallback`, for `tls.createServer({ SNICallback })` or your own `TLSSocket`. */
  readonly sniCallback: (serverName: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => void
}

/**
 * The client asked for a server name that no certificate covers, and there is no default
 * certificate. Code `FULCRUM_ERR_TLS_NO_CERTIFICATE`; emitted as the `TLSSocket`'s `error`.
 *
 * @example
 * ```ts
 * tlsSocket.on('error', (err) => {
 *   if (err instanceof NoCertificateError) log.info(`no certificate for ${err.serverName}`)
 * })
 * ```
 */
export class NoCertificateError extends FulcrumError {
  /** The server name the client asked for. */
  readonly serverName: string
  constructor(serverName: string) {
    super(
      'FULCRUM_ERR_TLS_NO_CERTIFICATE',
      `No TLS certificate for server name ${JSON.stringify(serverName)}`,
    )
    this.name = 'NoCertificateError'
    this.serverName = serverName
  }
}

const VERSIONS: readonly tls.SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']

function checkPem(path: string, value: unknown): string | Buffer {
  if (Buffer.isBuffer(value)) {
    if (value.length === 0) throw new InvalidOptionError(path, 'expected a non-empty PEM buffer')
    return value
  }
  return checkString(path, value)
}

/**
 * TLS termination with a certificate per server name: builds one `tls.SecureContext` per entry of
 * `certificates` (once), and wraps accepted plain sockets as server-side `TLSSocket`s that choose
 * the certificate by SNI through `SNICallback` (exact name, then one-label wildcard, then
 * `default`). Use it when the proxy must see or modify plaintext (HTTP routing, header injection)
 * or backends speak plain TCP; for passthrough use `peekServerName()` + `sniRouter()` instead.
 *
 * Throws `InvalidOptionError` for a bad option: a certificate key that is not a host name or
 * wildcard (`certificates["bad key"]`), a key/certificate pair OpenSSL refuses
 * (`certificates["a.example.com"]`), a `default` that names no entry, an unknown `minVersion`, a bad
 * ALPN name.
 *
 * @example
 * ```ts
 * const terminator = tlsTerminator({
 *   certificates: {
 *     'a.example.com': { key: fs.readFileSync('a.key'), cert: fs.readFileSync('a.crt') },
 *     '*.example.com': { key: fs.readFileSync('star.key'), cert: fs.readFileSync('star.crt') },
 *   },
 *   default: '*.example.com',
 *   alpn: ['http/1.1'],
 * })
 * net.createServer((socket) => {
 *   const tlsSocket = terminator.wrap(socket)
 *   tlsSocket.on('error', () => socket.destroy())
 *   tlsSocket.on('secure', () => relay(tlsSocket, route(tlsSocket.servername || undefined)))
 * }).listen(443)
 * ```
 */
export function tlsTerminator(options: TlsTerminatorOptions): TlsTerminator {
  checkObject('options', options)
  checkKeys('', options, ['certificates', 'default', 'minVersion', 'alpn'])
  const minVersion =
    options.minVersion === undefined ? 'TLSv1.2' : checkOneOf('minVersion', options.minVersion, VERSIONS)
  let alpn: string[] | undefined
  if (options.alpn !== undefined) {
    checkArray('alpn', options.alpn)
    alpn = options.alpn.map((p, i) => {
      const name = checkString(`alpn[${i}]`, p)
      if (Buffer.byteLength(name) > 255) throw new InvalidOptionError(`alpn[${i}]`, 'longer than 255 bytes')
      return name
    })
    if (alpn.length === 0) throw new InvalidOptionError('alpn', 'expected at least one protocol')
  }
  const table = buildNameTable<TlsCertificate, tls.SecureContext>(
    'certificates',
    options.certificates,
    (entry, keyPath) => {
      checkObject(keyPath, entry)
      checkKeys(keyPath, entry, ['key', 'cert'])
      const key = checkPem(`${keyPath}.key`, entry.key)
      const cert = checkPem(`${keyPath}.cert`, entry.cert)
      try {
        return tls.createSecureContext({ key, cert, minVersion })
      } catch (err) {
        throw new InvalidOptionError(
          keyPath,
          `not a usable key and certificate: ${err instanceof Error ? err.message.trim() : String(err)}`,
        )
      }
    },
  )
  if (table.exact.size + table.wildcard.size === 0)
    throw new InvalidOptionError('certificates', 'expected at least one certificate')
  let fallback: tls.SecureContext | undefined
  if (options.default !== undefined) {
    const name = checkString('default', options.default).toLowerCase()
    fallback = name.startsWith('*.') ? table.wildcard.get(name.slice(2)) : table.exact.get(name)
    if (fallback === undefined)
      throw new InvalidOptionError(
        'default',
        `names no entry of certificates: ${JSON.stringify(options.default)}`,
      )
  }
  // Serves clients without SNI when there is no default: it has no certificate, so they fail the
  // handshake (alert handshake_failure) instead of getting some other name's certificate.
  const base = fallback ?? tls.createSecureContext({ minVersion })

  const secureContextFor = (serverName: string | undefined): tls.SecureContext | undefined =>
    (serverName === undefined || serverName === '' ? undefined : lookupName(table, serverName)) ?? fallback

  const sniCallback = (
    serverName: string,
    cb: (err: Error | null, ctx?: tls.SecureContext) => void,
  ): void => {
    const ctx = secureContextFor(serverName)
    if (ctx === undefined) cb(new NoCertificateError(serverName))
    else cb(null, ctx)
  }

  const wrap = (socket: net.Socket): tls.TLSSocket =>
    new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: base,
      SNICallback: sniCallback,
      ...(alpn === undefined ? {} : { ALPNProtocols: alpn }),
    })

  return { secureContextFor, wrap, sniCallback }
}

import {
  checkKeys,
  checkObject,
  checkOneOf,
  checkString,
  describeValue,
  InvalidOptionError,
  optionalNumber,
} from '@fulcrum/core'
import {
  type ActiveCheckOptions,
  optionalBoolean,
  optionalPort,
  type ResolvedActiveOptions,
  resolveActiveOptions,
} from './options.js'
import { StatusSet, type StatusSpec } from './status-set.js'

/**
 * Methods an HTTP check may send.
 *
 * @example
 * ```ts
 * const method: HttpCheckMethod = 'HEAD'
 * ```
 */
export type HttpCheckMethod = 'GET' | 'HEAD' | 'OPTIONS' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/**
 * How an HTTP check matches the response body (at most `maxBodyBytes` of it, decoded as UTF-8): a
 * substring, a regular expression, or a predicate.
 *
 * @example
 * ```ts
 * const body: BodyMatcher = (text) => JSON.parse(text).status === 'UP'
 * ```
 */
export type BodyMatcher = string | RegExp | ((body: string) => boolean)

/**
 * TLS settings of an HTTPS check.
 *
 * @example
 * ```ts
 * const tls: HttpCheckTlsOptions = { ca: readFileSync('internal-ca.pem'), servername: 'api.internal' }
 * ```
 */
export interface HttpCheckTlsOptions {
  /** Verify the backend's certificate. @default true */
  readonly rejectUnauthorized?: boolean
  /** SNI and certificate name to verify. @default the `host` option's name, else the backend's host (no SNI for IP literals) */
  readonly servername?: string
  /** Trusted CA certificates (PEM) instead of Node's defaults. */
  readonly ca?: string | Uint8Array | readonly (string | Uint8Array)[]
}

/**
 * Options of `httpCheck()`.
 *
 * @example
 * ```ts
 * const options: HttpCheckOptions = { path: '/healthz', expectStatus: [200, 299], failStatus: 503, body: /"status":"UP"/ }
 * ```
 */
export interface HttpCheckOptions extends ActiveCheckOptions {
  /** Request path, with any query. @default '/' */
  readonly path?: string
  /** Request method (sent without a body). @default 'GET' */
  readonly method?: HttpCheckMethod
  /** `Host` header (also the TLS server name unless `tls.servername`). @default the backend's `host:port` */
  readonly host?: string
  /** Extra request headers (not `host`, `connection` or framing headers). */
  readonly headers?: Readonly<Record<string, string>>
  /** Statuses that pass. @default [200, 299] */
  readonly expectStatus?: StatusSpec
  /**
   * Statuses that mark the backend down at once, ignoring `fall` (like Envoy's statuses outside
   * `expected_statuses` and `retriable_statuses`); they win over `expectStatus`. @default none
   */
  readonly failStatus?: StatusSpec
  /** Also require the body to match. @default no body check (the body is discarded) */
  readonly body?: BodyMatcher
  /** Most body bytes read for `body`; the rest is discarded. @default 65_536 */
  readonly maxBodyBytes?: number
  /** Port to check instead of the backend's own. @default the backend's port */
  readonly port?: number
  /** `'https'` checks over TLS. @default `'https'` when the backend's URL is `https:`, else `'http'` */
  readonly scheme?: 'http' | 'https'
  /** TLS settings for `https`. */
  readonly tls?: HttpCheckTlsOptions
  /**
   * Keep the connection open between checks. Off by default (like Pingora): every check opens a new
   * connection, which also catches listen-queue and firewall faults; the request says
   * `connection: close`. @default false
   */
  readonly reuseConnection?: boolean
}

/** @internal {@link HttpCheckOptions} validated. */
export interface ResolvedHttpOptions {
  readonly active: ResolvedActiveOptions
  readonly path: string
  readonly method: HttpCheckMethod
  readonly host: string | undefined
  /** Flat `[name, value, …]` list for undici. */
  readonly headers: readonly string[]
  readonly expect: StatusSet
  readonly fail: StatusSet
  readonly body: BodyMatcher | undefined
  readonly maxBodyBytes: number
  readonly port: number | undefined
  readonly scheme: 'http' | 'https' | undefined
  readonly tls: HttpCheckTlsOptions
  readonly reuseConnection: boolean
}

const KEYS = [
  'path',
  'method',
  'host',
  'headers',
  'expectStatus',
  'failStatus',
  'body',
  'maxBodyBytes',
  'port',
  'scheme',
  'tls',
  'reuseConnection',
]
const METHODS: readonly HttpCheckMethod[] = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE']
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const FORBIDDEN_HEADERS: ReadonlyMap<string, string> = new Map([
  ['host', 'use httpCheck.host'],
  ['connection', 'use httpCheck.reuseConnection'],
  ['keep-alive', 'use httpCheck.reuseConnection'],
  ['content-length', 'the check sends no body'],
  ['transfer-encoding', 'the check sends no body'],
  ['upgrade', 'not allowed in a health check'],
  ['expect', 'not allowed in a health check'],
])

/**
 * @internal Validates `httpCheck()` options; throws `InvalidOptionError` naming the path (`httpCheck.path`).
 *
 * @example
 * ```ts
 * const o = resolveHttpOptions({ path: '/healthz' }) // o.expect.has(204) === true
 * ```
 */
export function resolveHttpOptions(options: HttpCheckOptions | undefined): ResolvedHttpOptions {
  const active = resolveActiveOptions('httpCheck', options, KEYS, 'active:http')
  const o = (options === undefined ? {} : options) as Record<string, unknown>
  const path = o.path === undefined ? '/' : checkString('httpCheck.path', o.path)
  if (!path.startsWith('/') || !visible(path))
    throw new InvalidOptionError(
      'httpCheck.path',
      `expected a path starting with "/" and no spaces, got ${describeValue(path)}`,
    )
  const host = o.host === undefined ? undefined : checkString('httpCheck.host', o.host)
  if (host !== undefined && (!visible(host) || /[/?#@]/.test(host)))
    throw new InvalidOptionError('httpCheck.host', `expected a host[:port], got ${describeValue(host)}`)
  const body = o.body
  if (body !== undefined && !(body instanceof RegExp) && typeof body !== 'function')
    checkString('httpCheck.body', body)
  return {
    active,
    path,
    method: o.method === undefined ? 'GET' : checkOneOf('httpCheck.method', o.method, METHODS),
    host,
    headers: resolveHeaders(o.headers),
    expect: StatusSet.from('httpCheck.expectStatus', o.expectStatus, [200, 299]),
    fail: StatusSet.from('httpCheck.failStatus', o.failStatus, undefined),
    body: body as BodyMatcher | undefined,
    maxBodyBytes: optionalNumber('httpCheck.maxBodyBytes', o.maxBodyBytes, 65_536, {
      min: 1,
      max: 16 * 1024 * 1024,
      integer: true,
    }),
    port: optionalPort('httpCheck.port', o.port),
    scheme:
      o.scheme === undefined
        ? undefined
        : checkOneOf<'http' | 'https'>('httpCheck.scheme', o.scheme, ['http', 'https']),
    tls: resolveTls(o.tls),
    reuseConnection: optionalBoolean('httpCheck.reuseConnection', o.reuseConnection, false),
  }
}

/** True when `s` has no space, control character or DEL. */
function visible(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c <= 0x20 || c === 0x7f) return false
  }
  return true
}

function resolveHeaders(value: unknown): string[] {
  if (value === undefined) return []
  checkObject('httpCheck.headers', value)
  const flat: string[] = []
  for (const [name, v] of Object.entries(value)) {
    const path = `httpCheck.headers.${name}`
    if (!TOKEN.test(name)) throw new InvalidOptionError(path, 'expected a header name (an HTTP token)')
    const forbidden = FORBIDDEN_HEADERS.get(name.toLowerCase())
    if (forbidden !== undefined) throw new InvalidOptionError(path, forbidden)
    const text = checkString(path, v, { nonEmpty: false })
    if (text.includes('\r') || text.includes('\n') || text.includes('\0'))
      throw new InvalidOptionError(path, 'expected a header value without CR, LF or NUL')
    flat.push(name, text)
  }
  return flat
}

function resolveTls(value: unknown): HttpCheckTlsOptions {
  if (value === undefined) return {}
  checkObject('httpCheck.tls', value)
  checkKeys('httpCheck.tls', value, ['rejectUnauthorized', 'servername', 'ca'])
  const tls: {
    rejectUnauthorized?: boolean
    servername?: string
    ca?: NonNullable<HttpCheckTlsOptions['ca']>
  } = {}
  if (value.rejectUnauthorized !== undefined)
    tls.rejectUnauthorized = optionalBoolean(
      'httpCheck.tls.rejectUnauthorized',
      value.rejectUnauthorized,
      true,
    )
  if (value.servername !== undefined)
    tls.servername = checkString('httpCheck.tls.servername', value.servername)
  if (value.ca !== undefined) {
    const list = Array.isArray(value.ca) ? value.ca : [value.ca]
    list.forEach((ca: unknown, i: number) => {
      if (typeof ca !== 'string' && !(ca instanceof Uint8Array))
        throw new InvalidOptionError(
          Array.isArray(value.ca) ? `httpCheck.tls.ca[${i}]` : 'httpCheck.tls.ca',
          `expected a PEM string or a Buffer, got ${describeValue(ca)}`,
        )
    })
    tls.ca = value.ca as NonNullable<HttpCheckTlsOptions['ca']>
  }
  return tls
}

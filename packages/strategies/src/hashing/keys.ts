/**
 * Key extractors: where a hashing or affinity strategy finds the routing key of a pick. An extractor
 * returns a non-empty string, or `undefined` when the context carries no key (the strategy then uses
 * its fallback). Extractors run on every pick: they read the context without building intermediate
 * strings, and allocate only the returned key when it is not already a string of the context.
 */
import type { PickContext } from '@fulcrum/core'
import { checkFunction, checkOptions, checkString, optionalNumber } from './options.js'

/**
 * Reads the routing key from a pick context; `undefined` (or an empty string) means "no key".
 *
 * @example
 * ```ts
 * const byTenant: KeyExtractor<{ tenant?: string }> = (ctx) => ctx.tenant
 * ```
 */
export type KeyExtractor<Ctx> = (ctx: Ctx) => string | undefined

/**
 * The context an HTTP proxy passes to `pick()`: Node's `IncomingMessage.headers` shape (lower-case
 * names; a repeated header may be an array), the request target and the client's address.
 *
 * @example
 * ```ts
 * const ctx: HttpKeyContext = { headers: req.headers, url: req.url ?? '/', remoteAddress: req.socket.remoteAddress ?? '' }
 * ```
 */
export interface HttpKeyContext {
  /** An explicit routing key, as in {@link PickContext}. */
  readonly key?: string | undefined
  /** Request headers, lower-case names. */
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>
  /** The request target, e.g. `/cart?user=42`. */
  readonly url?: string
  /** The client's IP address (IPv4, IPv6 or IPv4-mapped IPv6). */
  readonly remoteAddress?: string
}

/** Header values of `name` (lower-case), looked up case-insensitively. */
function headerValue(ctx: HttpKeyContext, lower: string): string | string[] | undefined {
  const headers = ctx.headers
  if (headers === undefined || headers === null) return undefined
  const direct = headers[lower]
  if (direct !== undefined) return direct
  for (const name in headers) {
    if (name.length === lower.length && name !== lower && name.toLowerCase() === lower) return headers[name]
  }
  return undefined
}

/** `value` when it is a non-empty string, else `undefined`. */
function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined
}

/**
 * Reads the key from a request header; the name is case-insensitive, and the values of a repeated
 * header are joined with `,` in their order. An absent or empty header gives no key.
 *
 * Choose it to route by an identity the client sends (`x-user-id`, `x-tenant`, `authorization`).
 *
 * @example
 * ```ts
 * ringHash({ key: keyFromHeader('X-User-Id') })
 * ```
 */
export function keyFromHeader(name: string): KeyExtractor<HttpKeyContext> {
  const lower = checkString('keyFromHeader.name', name).toLowerCase()
  return (ctx) => {
    const v = headerValue(ctx, lower)
    if (typeof v === 'string') return v.length > 0 ? v : undefined
    if (v === undefined || v.length === 0) return undefined
    return v.length === 1 ? nonEmpty(v[0]) : nonEmpty(v.join(','))
  }
}

/** The value of cookie `name` in one `Cookie` header, or `undefined`. */
function findCookie(header: string, name: string): string | undefined {
  const len = header.length
  let i = 0
  while (i < len) {
    // Skip the separator's whitespace (RFC 6265 uses "; ", clients also send ";" or extra spaces).
    let c = header.charCodeAt(i)
    while (c === 0x20 || c === 0x09) c = header.charCodeAt(++i)
    let end = header.indexOf(';', i)
    if (end === -1) end = len
    if (header.startsWith(name, i)) {
      let j = i + name.length
      c = header.charCodeAt(j)
      while (c === 0x20 || c === 0x09) c = header.charCodeAt(++j)
      if (c === 0x3d /* = */ && j < end) {
        let start = j + 1
        let stop = end
        while (start < stop && (header.charCodeAt(start) === 0x20 || header.charCodeAt(start) === 0x09))
          start++
        while (stop > start && (header.charCodeAt(stop - 1) === 0x20 || header.charCodeAt(stop - 1) === 0x09))
          stop--
        // A quoted cookie-value: DQUOTE *cookie-octet DQUOTE.
        if (stop - start >= 2 && header.charCodeAt(start) === 0x22 && header.charCodeAt(stop - 1) === 0x22) {
          start++
          stop--
        }
        return stop > start ? header.slice(start, stop) : undefined
      }
    }
    i = end + 1
  }
  return undefined
}

/**
 * Reads the key from a cookie of the `Cookie` header (RFC 6265 `name=value` pairs separated by
 * `; `; surrounding whitespace is tolerated and a quoted value is unquoted). The cookie name is
 * case-sensitive, as cookies are. Missing header, cookie or value gives no key. Parses in place: the
 * only allocation is the returned value.
 *
 * Choose it for session affinity by an application session cookie (`sticky(p2c(), { key: keyFromCookie('sid') })`).
 *
 * @example
 * ```ts
 * rendezvous({ key: keyFromCookie('session') })
 * ```
 */
export function keyFromCookie(name: string): KeyExtractor<HttpKeyContext> {
  checkString('keyFromCookie.name', name)
  return (ctx) => {
    const v = headerValue(ctx, 'cookie')
    if (typeof v === 'string') return findCookie(v, name)
    if (v === undefined) return undefined
    // HTTP/2 lets a client split cookies over several `cookie` fields.
    for (let i = 0; i < v.length; i++) {
      const found = findCookie(v[i]!, name)
      if (found !== undefined) return found
    }
    return undefined
  }
}

/**
 * Options of {@link keyFromClientIp}.
 *
 * @example
 * ```ts
 * const options: ClientIpKeyOptions = { ipv4Prefix: 24 }
 * ```
 */
export interface ClientIpKeyOptions {
  /**
   * Keep only this many leading bits of an IPv4 address (24 = the /24 network, like NGINX `ip_hash`),
   * so that clients of one network share a backend. IPv6 addresses are used whole. @default 32
   */
  readonly ipv4Prefix?: number
}

/**
 * Parses dotted-quad IPv4 starting at `from`, returning the address as an unsigned integer, or -1
 * when the text is not exactly four decimal octets.
 */
function parseIpv4(s: string, from: number): number {
  let value = 0
  let octet = 0
  let digits = 0
  let dots = 0
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x30 && c <= 0x39) {
      octet = octet * 10 + (c - 0x30)
      if (++digits > 3 || octet > 255) return -1
    } else if (c === 0x2e && digits > 0 && dots < 3) {
      value = value * 256 + octet
      octet = 0
      digits = 0
      dots++
    } else {
      return -1
    }
  }
  if (dots !== 3 || digits === 0) return -1
  return value * 256 + octet
}

/**
 * Reads the key from the client's address (`remoteAddress`); an IPv4-mapped IPv6 address
 * (`::ffff:10.1.2.3`) counts as its IPv4 address. With `ipv4Prefix` below 32 the key is the network
 * address, e.g. `10.1.2.0/24`.
 *
 * Choose it for source-IP affinity when clients send no identity (NGINX `ip_hash`, HAProxy
 * `balance source`). Behind a NAT or a CDN many clients share an address; prefer a header then.
 *
 * @example
 * ```ts
 * maglev({ key: keyFromClientIp({ ipv4Prefix: 24 }) })
 * ```
 */
export function keyFromClientIp(options?: ClientIpKeyOptions): KeyExtractor<HttpKeyContext> {
  const o = checkOptions('keyFromClientIp', options, ['ipv4Prefix'])
  const prefix = optionalNumber('keyFromClientIp.ipv4Prefix', o.ipv4Prefix, 32, {
    min: 1,
    max: 32,
    integer: true,
  })
  const mask = (0xffffffff << (32 - prefix)) >>> 0
  return (ctx) => {
    const addr = ctx.remoteAddress
    if (typeof addr !== 'string' || addr.length === 0) return undefined
    const mapped = addr.startsWith('::ffff:') || addr.startsWith('::FFFF:') ? 7 : 0
    if (prefix === 32 && mapped === 0) return addr
    const ip = parseIpv4(addr, mapped)
    if (ip < 0) return addr
    if (prefix === 32) return addr.slice(mapped)
    const net = (ip & mask) >>> 0
    return `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${prefix}`
  }
}

/** True when `s[from, to)` holds a `%` or a `+`, i.e. needs decoding before it can be compared. */
function hasEscape(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x25 || c === 0x2b) return true
  }
  return false
}

/** Decodes a query component: `+` is a space, `%XX` is percent-decoded (left as is if malformed). */
function decodeComponent(s: string): string {
  const plus = s.indexOf('+') === -1 ? s : s.replaceAll('+', ' ')
  if (plus.indexOf('%') === -1) return plus
  try {
    return decodeURIComponent(plus)
  } catch {
    return plus
  }
}

/**
 * Reads the key from the first value of a query parameter of `url` (`/path?user=42&x=1`),
 * percent-decoded (`+` means a space). An absent parameter or an empty first value gives no key.
 *
 * Choose it to route by a parameter of the request target (HAProxy `balance url_param`), e.g. a
 * document or tenant id for cache locality.
 *
 * @example
 * ```ts
 * ringHash({ key: keyFromQuery('doc') })
 * ```
 */
export function keyFromQuery(param: string): KeyExtractor<HttpKeyContext> {
  checkString('keyFromQuery.param', param)
  return (ctx) => {
    const url = ctx.url
    if (typeof url !== 'string') return undefined
    let stop = url.indexOf('#')
    if (stop === -1) stop = url.length
    const q = url.indexOf('?')
    if (q === -1 || q > stop) return undefined
    let i = q + 1
    while (i < stop) {
      let end = url.indexOf('&', i)
      if (end === -1 || end > stop) end = stop
      let eq = url.indexOf('=', i)
      if (eq === -1 || eq > end) eq = end
      const nameLen = eq - i
      const matches =
        (nameLen === param.length && url.startsWith(param, i)) ||
        (nameLen >= param.length && hasEscape(url, i, eq) && decodeComponent(url.slice(i, eq)) === param)
      if (matches) return eq + 1 < end ? nonEmpty(decodeComponent(url.slice(eq + 1, end))) : undefined
      i = end + 1
    }
    return undefined
  }
}

/** Options of {@link keyFromPath}. */
export interface PathKeyOptions {
  /** Use only the first `segments` path segments (`/tenants/7/orders` with 2 → `/tenants/7`). @default all */
  readonly segments?: number
}

/**
 * Reads the key from the path of `url`, without the query and fragment (HAProxy `balance uri`
 * with `whole` off). With `segments`, only the leading segments count, so every URL under one
 * prefix — one tenant, one repository — shares a backend.
 *
 * Choose it for cache locality by resource: the same path always reaches the same cache.
 *
 * @example
 * ```ts
 * ringHash({ key: keyFromPath({ segments: 2 }) })
 * ```
 */
export function keyFromPath(options?: PathKeyOptions): KeyExtractor<HttpKeyContext> {
  const o = checkOptions('keyFromPath', options, ['segments'])
  const segments = optionalNumber('keyFromPath.segments', o.segments, 0, { min: 1, integer: true })
  return (ctx) => {
    const url = ctx.url
    if (typeof url !== 'string' || url.length === 0) return undefined
    let end = url.length
    for (let i = 0; i < url.length; i++) {
      const c = url.charCodeAt(i)
      if (c === 63 /* ? */ || c === 35 /* # */) {
        end = i
        break
      }
    }
    if (segments > 0) {
      let seen = 0
      for (let i = 1; i < end; i++) {
        if (url.charCodeAt(i) === 47 && ++seen === segments) {
          end = i
          break
        }
      }
    }
    return end === url.length ? url : nonEmpty(url.slice(0, end))
  }
}

/**
 * Reads `ctx.key`, the routing key of {@link PickContext}. The default extractor of every hashing
 * and affinity strategy.
 *
 * @example
 * ```ts
 * ringHash({ key: keyFromContext() }) // same as ringHash()
 * lb.pick({ key: 'user-42' })
 * ```
 */
export function keyFromContext<Ctx = PickContext>(): KeyExtractor<Ctx> {
  return contextKey as KeyExtractor<Ctx>
}

function contextKey(ctx: unknown): string | undefined {
  if (typeof ctx !== 'object' || ctx === null) return undefined
  return nonEmpty((ctx as PickContext).key)
}

/**
 * Wraps a custom extractor; an empty string or a non-string result counts as "no key".
 *
 * Choose it when the key lives in your own context type.
 *
 * @example
 * ```ts
 * ringHash<{ tenant: string }>({ key: keyFrom((ctx) => ctx.tenant) })
 * ```
 */
export function keyFrom<Ctx>(fn: KeyExtractor<Ctx>): KeyExtractor<Ctx> {
  checkFunction('keyFrom.fn', fn)
  return (ctx) => nonEmpty(fn(ctx))
}

/**
 * Tries extractors in order and returns the first non-empty key (Envoy's `terminal` hash policies).
 *
 * Choose it for "the session cookie if there is one, else the client address".
 *
 * @example
 * ```ts
 * sticky(p2c(), { key: firstKey(keyFromCookie('sid'), keyFromHeader('x-user'), keyFromClientIp()) })
 * ```
 */
export function firstKey<Ctx>(...extractors: KeyExtractor<Ctx>[]): KeyExtractor<Ctx> {
  extractors.forEach((fn, i) => {
    checkFunction(`firstKey[${i}]`, fn)
  })
  const list = [...extractors]
  return (ctx) => {
    for (let i = 0; i < list.length; i++) {
      const key = nonEmpty(list[i]!(ctx))
      if (key !== undefined) return key
    }
    return undefined
  }
}

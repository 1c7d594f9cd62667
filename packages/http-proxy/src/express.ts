/**
 * `proxyMiddleware()`: the reverse proxy as an Express / Connect middleware, with Express's mount
 * path handling and a fix for the classic "a body parser already read the body" bug. No runtime
 * dependency on Express: the types are structural.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { type Balancer, checkKeys, checkObject, checkOneOf } from '@fulcrum/core'
import { bodyConsumedError, type ProxyError } from './errors.js'
import { createHttpProxy, type HttpProxy } from './http-proxy.js'
import type { HttpProxyOptions } from './options.js'

/** The request as Express (or Connect) hands it to a middleware: `originalUrl` and a parsed `body`. */
export interface MiddlewareRequest extends IncomingMessage {
  /** The URL before the mount path was stripped (Express, Connect). */
  readonly originalUrl?: string
  /** What a body parser (`express.json()`, `express.raw()` …) made of the body, if one ran. */
  readonly body?: unknown
}

/**
 * Options of the middleware itself, allowed with a balancer or with an existing {@link HttpProxy}.
 *
 * @example
 * ```ts
 * app.use('/api', proxyMiddleware(lb, { forwardUrl: 'original', consumedBody: 'reject' }))
 * ```
 */
export interface MiddlewareOptions {
  /**
   * The target sent upstream: `'stripped'` is `req.url`, from which Express removed the mount path
   * (`app.use('/api', mw)`: `/api/users` → `/users`); `'original'` is `req.originalUrl`
   * (`/api/users`); a function returns the origin-form target itself. @default 'stripped'
   */
  readonly forwardUrl?: 'stripped' | 'original' | ((req: MiddlewareRequest) => string)
  /**
   * What to do when a body parser mounted before the proxy already consumed the request body (its
   * stream has been read, so nothing is left to forward): `'reserialize'` sends `req.body` again —
   * a Buffer (`express.raw()`) or string (`express.text()`) as it is, an object as JSON for a JSON
   * content type, or as a form for `application/x-www-form-urlencoded` with string values, always
   * uncompressed with a new `Content-Length` — and fails like `'reject'` for anything else (a
   * nested form, text decoded from a charset other than UTF-8); `'reject'`
   * calls `next(err)` with a 500 {@link ProxyError} (`FULCRUM_ERR_BODY_CONSUMED`) naming the problem.
   * Mounting the proxy before the body parsers avoids both. @default 'reserialize'
   */
  readonly consumedBody?: 'reserialize' | 'reject'
}

/**
 * Options of {@link proxyMiddleware} with a balancer: the proxy's options plus the middleware's.
 *
 * @example
 * ```ts
 * proxyMiddleware(lb, { retries: 1, trustProxy: ['10.0.0.0/8'], forwardUrl: 'stripped' })
 * ```
 */
export interface ProxyMiddlewareOptions<Ctx> extends HttpProxyOptions<Ctx>, MiddlewareOptions {}

/** An Express / Connect middleware that proxies every request it receives. */
export interface ProxyMiddleware {
  /** Proxies the request; calls `next(err)` only for a consumed body it cannot forward. */
  (req: MiddlewareRequest, res: ServerResponse, next: (err?: unknown) => void): void
  /** The underlying proxy: `server.on('upgrade', mw.proxy.upgrade)` adds WebSocket. */
  readonly proxy: HttpProxy
  /** Closes the proxy's upstream pools (requests in flight finish first). */
  close(): Promise<void>
}

const JSON_TYPE = /^[^;]*[/+]json\s*(?:;|$)/i
const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(?:;|$)/i
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i
const DROPPED = new Set(['content-length', 'transfer-encoding', 'content-encoding'])

/**
 * Creates an Express / Connect middleware proxying to `balancer`'s backends. Mounted with
 * `app.use('/api', mw)`, it forwards the path below the mount point; requests it sees are always
 * answered by the proxy (never passed to `next`), gateway errors included (502, 503, 504).
 *
 * It takes the balancer, as `createHttpProxy` and `fastifyProxy` do, so the middleware owns its
 * proxy and `close()` frees the pools. Pass an existing {@link HttpProxy} instead to share one proxy
 * (and its pools, and its `upgrade` listener) between several mounts or a plain `node:http` server.
 *
 * @example
 * ```ts
 * const api = proxyMiddleware(lb, { retries: 1 })
 * app.use('/api', api)          // before express.json(), or the body is re-serialized
 * app.use(express.json())
 * const server = app.listen(8080)
 * server.on('upgrade', api.proxy.upgrade)
 * ```
 */
export function proxyMiddleware<Ctx>(
  balancer: Balancer<Ctx>,
  options?: ProxyMiddlewareOptions<Ctx>,
): ProxyMiddleware
export function proxyMiddleware(proxy: HttpProxy, options?: MiddlewareOptions): ProxyMiddleware
export function proxyMiddleware<Ctx>(
  target: Balancer<Ctx> | HttpProxy,
  options: ProxyMiddlewareOptions<Ctx> | MiddlewareOptions = {},
): ProxyMiddleware {
  checkObject('options', options as unknown)
  const { forwardUrl = 'stripped', consumedBody = 'reserialize', ...rest } = options
  if (typeof forwardUrl !== 'function') checkOneOf('options.forwardUrl', forwardUrl, ['stripped', 'original'])
  checkOneOf('options.consumedBody', consumedBody, ['reserialize', 'reject'])
  let proxy: HttpProxy
  if (typeof target === 'function') {
    checkKeys('options', rest, [])
    proxy = target
  } else proxy = createHttpProxy(target, rest as HttpProxyOptions<Ctx>)
  const middleware = (req: MiddlewareRequest, res: ServerResponse, next: (err?: unknown) => void): void => {
    if (forwardUrl === 'original') req.url = req.originalUrl ?? req.url
    else if (forwardUrl !== 'stripped') req.url = forwardUrl(req)
    if (!bodyConsumed(req)) {
      proxy(req, res)
      return
    }
    const body = consumedBody === 'reserialize' ? serialize(req) : undefined
    if (body === undefined) {
      next(consumedBodyError(req, consumedBody))
      return
    }
    proxy(replayRequest(req, body), res)
  }
  return Object.assign(middleware, { proxy, close: () => proxy.close() })
}

/** True when the request has a body and something already read (part of) its stream. */
function bodyConsumed(req: MiddlewareRequest): boolean {
  const length = req.headers['content-length']
  const framed = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
  return framed && (req.readableEnded || req.readableDidRead)
}

/** `req.body` as bytes, or `undefined` when it has no faithful serialization. */
function serialize(req: MiddlewareRequest): Buffer | undefined {
  const body = req.body
  if (body === undefined || !req.readableEnded) return undefined
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  const type = req.headers['content-type'] ?? ''
  const charset = CHARSET.exec(type)?.[1]?.toLowerCase()
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return undefined // decoded text
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  if (JSON_TYPE.test(type)) return Buffer.from(JSON.stringify(body), 'utf8')
  if (FORM_TYPE.test(type) && typeof body === 'object' && body !== null) {
    const form = new URLSearchParams()
    for (const [name, value] of Object.entries(body)) {
      if (typeof value === 'string') form.append(name, value)
      else if (Array.isArray(value) && value.every((v) => typeof v === 'string'))
        for (const v of value) form.append(name, v)
      else return undefined // nested (`extended: true`) forms have no single encoding
    }
    return Buffer.from(form.toString(), 'utf8')
  }
  return undefined
}

function consumedBodyError(req: MiddlewareRequest, mode: string): ProxyError {
  const why =
    mode === 'reject'
      ? 'and consumedBody is "reject"'
      : req.body === undefined || !req.readableEnded
        ? 'and left no req.body to re-serialize'
        : `and req.body cannot be re-serialized as ${req.headers['content-type'] ?? 'its content type'}`
  return bodyConsumedError(` ${why}`)
}

/**
 * A view of `req` whose body is `body`: an object whose prototype is `req` (so hooks see every
 * property Express and other middleware set), with its own stream state fed from `body` and its
 * own header lists (`Content-Length` of `body`; no `Transfer-Encoding`, no `Content-Encoding`).
 */
function replayRequest(req: MiddlewareRequest, body: Buffer): IncomingMessage {
  const view = Object.create(req) as IncomingMessage
  ;(Readable as unknown as (this: Readable) => void).call(view)
  view._read = () => {}
  view._destroy = (err, cb) => cb(err)
  const raw: string[] = []
  const src = req.rawHeaders
  for (let i = 0; i < src.length; i += 2)
    if (!DROPPED.has(src[i]!.toLowerCase())) raw.push(src[i]!, src[i + 1]!)
  raw.push('content-length', String(body.length))
  const headers = { ...req.headers, 'content-length': String(body.length) }
  delete headers['transfer-encoding']
  delete headers['content-encoding']
  Object.defineProperty(view, 'rawHeaders', { value: raw, enumerable: true })
  view.headers = headers
  view.push(body)
  view.push(null)
  return view
}

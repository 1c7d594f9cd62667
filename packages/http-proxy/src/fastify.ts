/**
 * `fastifyProxy`: the reverse proxy as an encapsulated Fastify plugin — every method under its
 * prefix, the raw request stream forwarded unread, WebSocket upgrades under the prefix, and the
 * pools closed with the instance. No runtime dependency on Fastify: the types are structural.
 */
import type { EventEmitter } from 'node:events'
import { type IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { type Balancer, checkObject, InvalidOptionError } from '@fulcrum/core'
import { createHttpProxy, type HttpProxy } from './http-proxy.js'
import type { HttpProxyOptions } from './options.js'
import { offersWebSocket } from './websocket.js'

/** The parts of a Fastify request the plugin reads (`raw` is Node's `IncomingMessage` on HTTP/1.1). */
export interface FastifyRequestLike {
  readonly raw: unknown
}

/** The parts of a Fastify reply the plugin uses (`raw` is Node's `ServerResponse` on HTTP/1.1). */
export interface FastifyReplyLike {
  readonly raw: unknown
  hijack(): unknown
}

/** The parts of a Fastify instance (v5) the plugin uses; a `FastifyInstance` satisfies it (no import of fastify needed). */
export interface FastifyInstanceLike {
  readonly prefix: string
  readonly server: EventEmitter
  readonly supportedMethods: readonly string[]
  removeAllContentTypeParsers(): void
  addContentTypeParser(
    type: string,
    parser: (request: never, payload: never, done: (err: Error | null, body?: undefined) => void) => void,
  ): unknown
  route(options: {
    method: string[]
    url: string
    exposeHeadRoute: boolean
    handler: (request: FastifyRequestLike, reply: FastifyReplyLike) => void
  }): unknown
  addHook(name: 'onClose', hook: () => Promise<void>): unknown
}

/**
 * Options of {@link fastifyProxy}: the balancer, the proxy's options, and how the prefix is
 * rewritten. `prefix` (and `logLevel`) are Fastify's own register options.
 *
 * @example
 * ```ts
 * app.register(fastifyProxy, { balancer: lb, prefix: '/api', rewritePrefix: '/v1', headersTimeoutMs: 10_000 })
 * ```
 */
export type FastifyProxyOptions = HttpProxyOptions<unknown> & {
  /** The balancer whose backends get the requests (any context type: `context` builds it). */
  readonly balancer: Balancer<never>
  /** Where the plugin is mounted; Fastify applies it to the plugin's routes. @default '' (every path) */
  readonly prefix?: string
  /**
   * What replaces the prefix in the upstream target: `/api/users` with prefix `/api` goes upstream
   * as `/users` by default, as `/v2/users` with `rewritePrefix: '/v2'`. @default ''
   */
  readonly rewritePrefix?: string
  /** Fastify's log level for the plugin's routes. */
  readonly logLevel?: string
}

/** Fastify's register options, which reach the plugin too; not proxy options. */
const REGISTER_KEYS = ['prefix', 'logLevel', 'logSerializers']
type Upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean
const kUpgrades = Symbol.for('fulcrum.fastifyProxy.upgrades')
interface Route {
  readonly prefix: string
  readonly handle: Upgrade
}
type Tracked = EventEmitter & { [kUpgrades]?: { routes: Route[]; listener: Upgrade } | undefined }

/**
 * A Fastify plugin that proxies every request under its prefix to the balancer's backends.
 *
 * Register it once per prefix. It is encapsulated (no `skip-override`) on purpose: its catch-all
 * content-type parser — which leaves the body unread, so the raw stream is proxied with
 * backpressure and no body limit — must not replace the parsers of the application's own routes,
 * and Fastify applies `prefix` only to encapsulated plugins. Hooks of parent contexts (`onRequest`
 * authentication …) run before the proxy; the reply is hijacked, so `onSend`/`onResponse` do not.
 * WebSocket upgrades under the prefix are relayed through the balancer — without Fastify's hooks,
 * but with the proxy's own (`onRequest` …); with `websocket: false`, and for any other upgrade
 * (`h2c`), they are left to other `upgrade` listeners or, with none, served by Fastify as plain
 * requests with their URL untouched.
 * Closing the instance closes the proxy's upstream pools and removes its `upgrade` listener.
 *
 * @example
 * ```ts
 * const app = Fastify()
 * app.get('/health', async () => ({ ok: true }))
 * await app.register(fastifyProxy, { balancer: lb, prefix: '/api' })
 * await app.listen({ port: 8080 })
 * ```
 */
export function fastifyProxy(
  fastify: FastifyInstanceLike,
  options: FastifyProxyOptions,
  done: (err?: Error) => void,
): void {
  let proxy: HttpProxy
  let rewritePrefix: string
  const relays = (options as { websocket?: unknown } | undefined)?.websocket !== false
  try {
    checkObject('options', options as unknown)
    const { balancer, rewritePrefix: rewrite = '', ...rest } = options
    if (typeof (balancer as { acquire?: unknown } | undefined)?.acquire !== 'function')
      throw new InvalidOptionError('options.balancer', 'expected a Balancer from createBalancer().build()')
    if (typeof rewrite !== 'string' || (rewrite !== '' && rewrite.charCodeAt(0) !== 47))
      throw new InvalidOptionError('options.rewritePrefix', 'expected "" or a path starting with /')
    rewritePrefix = rewrite.endsWith('/') ? rewrite.slice(0, -1) : rewrite
    const proxyOptions: Record<string, unknown> = { ...rest }
    for (const key of REGISTER_KEYS) delete proxyOptions[key]
    proxy = createHttpProxy(balancer, proxyOptions as HttpProxyOptions<never>)
  } catch (err) {
    done(err as Error)
    return
  }
  // A prefix registered as `/api/` routes `/api/…` but not `/api` (Fastify's rule); upgrades follow it.
  const slashed = fastify.prefix.endsWith('/')
  const prefix = slashed ? fastify.prefix.slice(0, -1) : fastify.prefix
  const lower = prefix.toLowerCase()
  /** The upstream target of `url`, which starts with the prefix (the router saw to that). */
  const target = (url: string): string => {
    if (url.slice(0, prefix.length).toLowerCase() !== lower) return url
    const out = rewritePrefix + url.slice(prefix.length)
    return out.charCodeAt(0) === 47 ? out : `/${out}`
  }
  fastify.removeAllContentTypeParsers()
  fastify.addContentTypeParser('*', (_request, _payload, parsed) => parsed(null))
  const handler = (request: FastifyRequestLike, reply: FastifyReplyLike): void => {
    reply.hijack()
    const req = request.raw as IncomingMessage
    req.url = target(req.url ?? '/')
    proxy(req, reply.raw as ServerResponse)
  }
  const method = [...fastify.supportedMethods]
  fastify.route({ method, url: '/', exposeHeadRoute: false, handler })
  fastify.route({ method, url: '/*', exposeHeadRoute: false, handler })

  const upgrade: Upgrade = (req, socket, head) => {
    // Only WebSocket is relayed here; any other upgrade (h2c), or every upgrade with
    // `websocket: false`, goes back to Fastify as a plain request with its URL untouched, so the
    // app's routes and hooks see it as the client sent it.
    if (!relays || !offersWebSocket(req.headers.upgrade)) return false
    const url = req.url ?? '/'
    const end = url.indexOf('?')
    const path = end < 0 ? url : url.slice(0, end)
    if (path.slice(0, prefix.length).toLowerCase() !== lower) return false
    if (path.length === prefix.length ? slashed : path.charCodeAt(prefix.length) !== 47) return false
    req.url = target(url)
    proxy.upgrade(req, socket, head)
    return true
  }
  const server = fastify.server as Tracked
  const route: Route = { prefix, handle: upgrade }
  addUpgrade(server, route)
  fastify.addHook('onClose', async () => {
    removeUpgrade(server, route)
    await proxy.close()
  })
  done()
}

Object.defineProperty(fastifyProxy, Symbol.for('fastify.display-name'), { value: '@fulcrum/http-proxy' })
Object.defineProperty(fastifyProxy, Symbol.for('plugin-meta'), { value: { fastify: '>=5.0.0' } })

/** One `upgrade` listener per server serves every registered prefix, longest first. */
function addUpgrade(server: Tracked, route: Route): void {
  let state = server[kUpgrades]
  if (state === undefined) {
    const routes: Route[] = []
    const listener: Upgrade = (req, socket, head) => {
      for (const r of routes) if (r.handle(req, socket, head)) return true
      // No prefix matched: leave it to other listeners, or — alone — do what Node does without any
      // upgrade listener and answer it as a plain request.
      if (server.listenerCount('upgrade') === 1) serveAsRequest(server, req, socket, head)
      return false
    }
    state = server[kUpgrades] = { routes, listener }
    server.on('upgrade', listener)
  }
  state.routes.push(route)
  state.routes.sort((a, b) => b.prefix.length - a.prefix.length)
}

function removeUpgrade(server: Tracked, route: Route): void {
  const state = server[kUpgrades]
  if (state === undefined) return
  const i = state.routes.indexOf(route)
  if (i >= 0) state.routes.splice(i, 1)
  if (state.routes.length > 0) return
  server.off('upgrade', state.listener)
  server[kUpgrades] = undefined
}

/** Hands an upgrade request nobody takes to the server's `request` listeners (Fastify's router). */
function serveAsRequest(server: EventEmitter, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => {})
  const h = req.headers
  if (head.length > 0 || h['content-length'] !== undefined || h['transfer-encoding'] !== undefined) {
    socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
    return
  }
  const res = new ServerResponse(req)
  res.shouldKeepAlive = false
  res.assignSocket(socket as Socket)
  res.on('finish', () => {
    res.detachSocket(socket as Socket)
    socket.end()
  })
  server.emit('request', req, res)
}

/**
 * @module @fulcrum/http-proxy
 *
 * L7 load balancing: a reverse proxy (an RFC 9110 gateway) for `node:http`, Express and Fastify,
 * and a balanced undici `Dispatcher` so that `fetch()` itself is load-balanced.
 *
 * @example
 * ```ts
 * import http from 'node:http'
 * import { createBalancer } from '@fulcrum/core'
 * import { createHttpProxy } from '@fulcrum/http-proxy'
 * const lb = createBalancer().backends(['http://127.0.0.1:9001', 'http://127.0.0.1:9002']).retry({ retries: 2 }).build()
 * const proxy = createHttpProxy(lb)
 * proxy.attach(http.createServer(proxy)).listen(8080)
 * ```
 */

export {
  BalancedDispatcher,
  createBalancedDispatcher,
} from './dispatcher/balanced-dispatcher.js'
export type { BalancedDispatcherOptions, DispatchContext } from './dispatcher/options.js'
export {
  type HttpProxyErrorCode,
  ProxyError,
  type ProxyPhase,
} from './errors.js'
export { ProxyExchange } from './exchange.js'
export type { ExchangeContext } from './exchange-context.js'
export {
  type MiddlewareOptions,
  type MiddlewareRequest,
  type ProxyMiddleware,
  type ProxyMiddlewareOptions,
  proxyMiddleware,
} from './express.js'
export {
  type FastifyInstanceLike,
  type FastifyProxyOptions,
  type FastifyReplyLike,
  type FastifyRequestLike,
  fastifyProxy,
} from './fastify.js'
export { createHttpProxy, type HttpProxy } from './http-proxy.js'
export { type ListenOptions, listen, type ProxyServer } from './listen.js'
export type {
  HttpProxyOptions,
  ProxyHooks,
  StickyOptions,
  TrustProxy,
  UpstreamOptions,
} from './options.js'

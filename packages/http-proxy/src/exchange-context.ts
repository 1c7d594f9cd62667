/**
 * The state of one proxied request that hooks and strategies see — request, response, routing
 * key, backend, attempts, status, error, addresses — and that the balancer fills as a lease slot.
 * {@link ProxyExchange} adds the behaviour on top.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { type Backend, type Balancer, type LeaseSlot, unmapIPv4 } from '@fulcrum/core'
import type { ProxyConfig } from './config.js'
import type { ProxyError } from './errors.js'
import { clientAddressOf } from './forwarded.js'
import type { RequestFacts } from './request-head.js'
import type { Upstreams } from './upstreams.js'

/** @internal What an exchange needs from its proxy. */
export interface ProxyCore {
  readonly balancer: Balancer<never>
  readonly config: ProxyConfig
  readonly upstreams: Upstreams
  /** Client sockets of open upgrade tunnels, destroyed by the proxy's `close()`. */
  readonly tunnels: Set<import('node:stream').Duplex>
}

/** @internal Exchange states, in order. */
export enum Stage {
  Routing = 0,
  Sending = 1,
  Headers = 2,
  Body = 3,
  Done = 4,
}

/**
 * The context of one proxied request, passed to every hook. It carries the request and response,
 * the routing key, the chosen backend, the attempt count, and — once it has ended — the status sent
 * and the error if any. It implements the `HttpKeyContext` key extractors read (`headers`, `url`,
 * `remoteAddress`, `key`), so it is the balancer's pick context unless `context` is set.
 *
 * @example
 * ```ts
 * createHttpProxy(lb, {
 *   onRequest: (ctx) => { ctx.key = ctx.req.headers['x-tenant'] as string | undefined },
 *   onLog: (ctx) => log.info({ status: ctx.status, backend: ctx.backend?.id, attempts: ctx.attempts }),
 * })
 * ```
 */
export class ExchangeContext implements LeaseSlot, RequestFacts {
  /** The backend of the current or last attempt (a lease slot field). */
  backend: Backend | undefined = undefined
  /** Clock time of the current attempt's pick (a lease slot field). */
  startedAt = 0
  /** True while an attempt holds its backend (a lease slot field). */
  held = false
  /** The client's request. */
  readonly req: IncomingMessage
  /** The response to the client. */
  readonly res: ServerResponse
  /** The routing key for hashing strategies; set it in `onRequest`. */
  key: string | undefined = undefined
  /** Upstream attempts made so far. */
  attempts = 0
  /** The status sent to the client (0 until a response starts). */
  status = 0
  /** Why the request failed, if it did. */
  error: ProxyError | undefined = undefined
  /** The TCP peer's address (IPv4-mapped IPv6 unmapped): the client, or the proxy in front. */
  readonly peerAddress: string
  /** The origin-form target sent upstream (path and query as received). */
  path = '/'
  /** The flat `[name, value, …]` header list sent upstream (edit it in `onUpstreamRequest`). */
  upstreamHeaders: string[] = []
  /** @internal */ host: string | undefined = undefined
  /** @internal */ contentLength = -1
  /** @internal */ chunked = false
  /** @internal */ maxForwards = -1
  /** @internal */ cookie: string | undefined = undefined

  /** @internal */
  readonly core: ProxyCore
  /** @internal */
  stage: Stage = Stage.Routing
  /** @internal The balancer pick context, built once. */
  pickContext: unknown = undefined
  /** @internal True when the current backend came from the sticky cookie. */
  pinned = false
  #client: string | undefined = undefined

  /** @internal Created by the proxy's request handler. */
  constructor(core: ProxyCore, req: IncomingMessage, res: ServerResponse) {
    this.core = core
    this.req = req
    this.res = res
    this.peerAddress = unmapIPv4(req.socket.remoteAddress ?? '')
  }

  /** The client's request headers (Node's lower-case object). */
  get headers(): IncomingMessage['headers'] {
    return this.req.headers
  }

  /**
   * The original client's address: {@link ProxyExchange.peerAddress}, or — when that peer is a
   * trusted proxy (`trustProxy`) — the right-most untrusted `X-Forwarded-For` entry. This is what
   * `keyFromClientIp()` hashes.
   */
  get remoteAddress(): string {
    return (this.#client ??= clientAddressOf(
      this.peerAddress,
      this.req.headers['x-forwarded-for'],
      this.core.config.trust,
    ))
  }

  /** The request target as received. */
  get url(): string {
    return this.req.url ?? '/'
  }

  /** The request method. */
  get method(): string {
    return this.req.method ?? 'GET'
  }
}

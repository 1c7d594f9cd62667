import type { Backend } from '@fulcrum/core'
import type { Dispatcher, Pool } from 'undici'
import type { ProxyError } from './errors.js'
import type { ProxyExchange } from './exchange.js'

/** Which peers may set forwarding headers: `true` trusts every peer, a list holds IPs and CIDR subnets. */
export type TrustProxy = boolean | readonly string[] | ((address: string) => boolean)

/**
 * Sticky sessions by cookie. The cookie holds an opaque keyed hash of the backend's id (HMAC-SHA256
 * with `secret`), never an address; a value that matches no backend (forged, stale, from another
 * deployment) falls back to the strategy and the cookie is reissued.
 *
 * @example
 * ```ts
 * createHttpProxy(lb, { sticky: { cookie: 'srv', secret: process.env.STICKY_SECRET } })
 * ```
 */
export interface StickyOptions {
  /** Cookie name. @default 'fulcrum_sticky' */
  readonly cookie?: string
  /** Key of the HMAC; set it to keep stickiness across restarts and replicas. @default random per process */
  readonly secret?: string
  /** Cookie `Path`. @default '/' */
  readonly path?: string
  /** Cookie `Max-Age` in seconds; omitted (a session cookie) when undefined. @default undefined */
  readonly maxAgeSeconds?: number
  /** Cookie `Secure` attribute. @default false */
  readonly secure?: boolean
  /** Cookie `HttpOnly` attribute. @default true */
  readonly httpOnly?: boolean
  /** Cookie `SameSite` attribute. @default 'Lax' */
  readonly sameSite?: 'Strict' | 'Lax' | 'None'
}

/** Settings of the upstream connection pools (one undici `Pool` per backend). */
export interface UpstreamOptions {
  /** Connections per backend at most. @default 256 */
  readonly connections?: number
  /** Idle keep-alive time of an upstream connection, in ms. @default 4_000 */
  readonly keepAliveTimeoutMs?: number
  /** TLS options for `https:` backends, fixed or per backend (e.g. `ca`, `servername`, `rejectUnauthorized`). */
  readonly tls?: Record<string, unknown> | ((backend: Backend) => Record<string, unknown> | undefined)
  /**
   * Creates the dispatcher of a backend; use it to add interceptors or a custom connector. It gets the
   * backend's origin and the pool options Fulcrum would use. @default `new Pool(origin, options)`
   */
  readonly factory?: (origin: string, options: Pool.Options, backend: Backend) => Dispatcher
}

/**
 * Phase hooks, in the order a request meets them (pingora's phases). Every hook is optional; the
 * `ctx` they get is the request's {@link ProxyExchange}. Hooks are synchronous so the hot path stays
 * free of promises.
 */
export interface ProxyHooks {
  /**
   * First phase, before any backend is chosen: authenticate, rate-limit, route. Answer the request
   * yourself through `ctx.res` and return `true` to end it here. @default proxy every request
   */
  readonly onRequest?: (ctx: ProxyExchange) => boolean | undefined
  /** Rewrites the upstream request: `headers` is a flat `[name, value, …]` array you may edit in place. */
  readonly onUpstreamRequest?: (ctx: ProxyExchange, headers: string[]) => void
  /** Sees the upstream response's status and may edit its flat header array before the client gets it. */
  readonly onUpstreamResponse?: (ctx: ProxyExchange, status: number, headers: string[]) => void
  /**
   * Builds the error response. Write to `ctx.res` and return `true` to replace the default plain-text
   * answer with the status of `error.status`. Not called once the response has started.
   */
  readonly onError?: (ctx: ProxyExchange, error: ProxyError) => boolean | undefined
  /** Called exactly once per request when it ends, however it ends (`ctx.status`, `ctx.error`, timings). */
  readonly onLog?: (ctx: ProxyExchange) => void
}

/**
 * Options of {@link createHttpProxy}. Every field is optional; the defaults make a correct RFC 9110
 * gateway with NGINX-like failover.
 *
 * @example
 * ```ts
 * createHttpProxy(lb, { trustProxy: ['10.0.0.0/8'], headersTimeoutMs: 30_000, sticky: {} })
 * ```
 */
export interface HttpProxyOptions<Ctx = ProxyExchange> extends ProxyHooks {
  /** Time to establish an upstream connection; then 504. @default 5_000 */
  readonly connectTimeoutMs?: number
  /** Time from sending the request to the response's headers; then 504. @default 60_000 */
  readonly headersTimeoutMs?: number
  /** Longest silence between two chunks of the response body; then the response is cut. @default 60_000 */
  readonly bodyTimeoutMs?: number
  /**
   * Retries on other backends after the first attempt. @default the balancer's `.retry()` count when
   * it was configured, else 2 (failures before any byte was sent are always safe to retry).
   */
  readonly retries?: number
  /** Statuses that count as failures and are retried for idempotent, replayable requests. @default [502, 503, 504] */
  readonly retryOnStatus?: readonly number[]
  /** Request bodies up to this size are buffered so that a retry can replay them. @default 65_536 */
  readonly maxReplayBodyBytes?: number
  /** Peers whose `X-Forwarded-*` / `Forwarded` values are kept; others' are replaced. @default false */
  readonly trustProxy?: TrustProxy
  /** Set `X-Forwarded-For`, `-Proto` and `-Host`. @default true */
  readonly xForwarded?: boolean
  /** Set the RFC 7239 `Forwarded` header. @default false */
  readonly forwarded?: boolean
  /** The pseudonym of this gateway in `Via`, or `false` for none. @default 'fulcrum' */
  readonly via?: string | false
  /** Keep the client's `Host`; when false the backend's host:port is sent. @default true */
  readonly preserveHost?: boolean
  /** Sticky sessions by cookie; off when undefined. */
  readonly sticky?: StickyOptions
  /** Builds the balancer's pick context from the request. @default the exchange itself (it has `headers`, `url`, `remoteAddress`) */
  readonly context?: (ctx: ProxyExchange) => Ctx
  /** Upstream pools. */
  readonly upstream?: UpstreamOptions
  /** WebSocket upgrades; with `false` an upgrade request is served as a plain HTTP/1.1 request. @default { idleTimeoutMs: 300_000 } */
  readonly websocket?: { readonly idleTimeoutMs?: number } | false
}

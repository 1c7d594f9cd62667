/**
 * Options of {@link createBalancedDispatcher} and their validation into the resolved configuration
 * every request reads. Bad options throw `FULCRUM_ERR_INVALID_OPTION` naming the option's path.
 */
import { type Balancer, checkKeys, checkObject, optionalFunction } from '@fulcrum/core'
import type { Dispatcher } from 'undici'
import type { UpstreamOptions } from '../options.js'
import { resolvePolicy, resolveUpstream, type UpstreamPolicy } from '../shared-options.js'

/**
 * The pick context a balanced dispatcher hands to the balancer when no `context` option is given:
 * the request's headers (lower-case names), its path as `url`, and an explicit `key` (undefined).
 * It has the shape `@fulcrum/strategies` key extractors read (`keyFromHeader`, `keyFromCookie`,
 * `keyFromQuery` …), so hashing and sticky strategies work unchanged. Headers given as an array
 * are converted only when a strategy reads `headers`.
 *
 * @example
 * ```ts
 * const lb = createBalancer().backends(urls).strategy(ringHash({ key: keyFromHeader('x-user-id') })).build()
 * await fetch('http://users/me', { dispatcher: createBalancedDispatcher(lb), headers: { 'x-user-id': '42' } })
 * ```
 */
export interface DispatchContext {
  /** An explicit routing key; always `undefined` in the default context. */
  readonly key: string | undefined
  /** The request headers as a record (lower-case names when they were given as an array). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>> | undefined
  /** The request path and query, e.g. `/users?id=42`. */
  readonly url: string
  /** The request method. */
  readonly method: string
  /** The undici dispatch options of the request, as given. */
  readonly options: Dispatcher.DispatchOptions
}

/**
 * Options of {@link createBalancedDispatcher}. Every field is optional; the defaults fail over on
 * connect errors and on 502/503/504 answers to safe requests, like the reverse proxy does.
 *
 * @example
 * ```ts
 * createBalancedDispatcher(lb, {
 *   headersTimeoutMs: 10_000,
 *   retryOnStatus: [503],
 *   upstream: { connections: 64, tls: { rejectUnauthorized: true } },
 * })
 * ```
 */
export interface BalancedDispatcherOptions<Ctx = DispatchContext> {
  /** Time to establish a connection to a backend; then a `UND_ERR_CONNECT_TIMEOUT` error. @default 5_000 */
  readonly connectTimeoutMs?: number
  /** Time from sending the request to the response's headers (undici `headersTimeout`). @default 60_000 */
  readonly headersTimeoutMs?: number
  /** Longest silence between two chunks of the response body (undici `bodyTimeout`). @default 60_000 */
  readonly bodyTimeoutMs?: number
  /**
   * Retries on other backends after the first attempt; attempts are at most `1 + retries`.
   * @default the balancer's `.retry()` count when it was configured, else 2
   */
  readonly retries?: number
  /** Final statuses retried (for idempotent requests with a replayable body) on another backend. @default [502, 503, 504] */
  readonly retryOnStatus?: readonly number[]
  /** The per-backend connection pools: size, keep-alive, TLS, a factory for custom dispatchers. @default {} */
  readonly upstream?: UpstreamOptions
  /**
   * Builds the balancer's pick context from the request's dispatch options (called once per
   * request). @default a {@link DispatchContext} (`key`, `headers`, `url`, `method`)
   */
  readonly context?: (options: Dispatcher.DispatchOptions) => Ctx
}

/** @internal The resolved options of a balanced dispatcher. */
export interface DispatcherConfig extends UpstreamPolicy {
  readonly upstream: UpstreamOptions
  readonly context: ((options: Dispatcher.DispatchOptions) => unknown) | undefined
}

const KEYS = [
  'connectTimeoutMs',
  'headersTimeoutMs',
  'bodyTimeoutMs',
  'retries',
  'retryOnStatus',
  'upstream',
  'context',
]

/** @internal Validates the options of `createBalancedDispatcher()` (`path` prefixes option paths). */
export function resolveDispatcherOptions<Ctx>(
  balancer: Balancer<Ctx>,
  options: BalancedDispatcherOptions<Ctx> | undefined,
  path = 'options',
): DispatcherConfig {
  const o = (options ?? {}) as BalancedDispatcherOptions<Ctx>
  checkObject(path, o as unknown)
  checkKeys(path, o, KEYS)
  return {
    ...resolvePolicy(balancer as unknown as Balancer<never>, o, path),
    upstream: resolveUpstream(`${path}.upstream`, o.upstream),
    context: optionalFunction(`${path}.context`, o.context, undefined) as DispatcherConfig['context'],
  }
}

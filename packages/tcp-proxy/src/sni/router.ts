import { type Balancer, checkObject, describeValue, InvalidOptionError } from '@fulcrum/core'
import type { SniOptions, TcpProxyOptions } from '../options.js'
import { createTcpProxy, type TcpProxy } from '../proxy.js'
import type { TcpContext } from '../types.js'
import { buildNameTable, lookupName } from './names.js'

/**
 * Builds a routing function from TLS server name (SNI) to a target — typically a `Balancer`, but
 * any value works. Use it with `peekServerName()` for TLS passthrough routed by name.
 *
 * Route keys (checked once, here):
 * - an exact DNS host name, `a.example.com`;
 * - a one-label wildcard, `*.example.com`: matches `a.example.com`, not `a.b.example.com` and not
 *   `example.com` (as certificate wildcards do). Because a wildcard covers exactly one label, at
 *   most one wildcard can match a name, so there is no precedence among wildcards to define.
 *
 * Lookup order: the exact name, then the wildcard of its parent domain, then `fallback`. Names are
 * case-insensitive (keys and looked-up names alike). A connection without SNI (`undefined`) gets
 * `fallback`. The returned function allocates nothing for a lower-case exact hit.
 *
 * Throws `InvalidOptionError` (`FULCRUM_ERR_INVALID_OPTION`) with path `routes["bad key"]` for a key
 * that is neither form (`*`, `a.*.com`, `-a.com`, `1.2.3.4`, `a.com.` …), for two keys that differ
 * only in case, and for an `undefined` value.
 *
 * @param routes server name or wildcard → target.
 * @param fallback the target for names no route matches and for connections without SNI.
 *   @default undefined (unmatched names get `undefined`: close the connection)
 * @returns `(serverName) => target | undefined`.
 * @example
 * ```ts
 * const route = sniRouter({ 'api.example.com': apiLb, '*.example.com': webLb }, defaultLb)
 * route('api.example.com') // apiLb
 * route('WWW.example.com') // webLb
 * route('a.b.example.com') // defaultLb
 * route(undefined)         // defaultLb
 * ```
 */
export function sniRouter<B>(
  routes: Readonly<Record<string, B>>,
  fallback?: B,
): (serverName: string | undefined) => B | undefined {
  const table = buildNameTable<B, B>('routes', routes, (v, keyPath) => {
    if (v === undefined) throw new InvalidOptionError(keyPath, 'expected a route target, got undefined')
    return v
  })
  return (serverName) => {
    if (serverName === undefined) return fallback
    const hit = lookupName(table, serverName)
    return hit === undefined ? fallback : hit
  }
}

/** Options of {@link createSniProxy}: those of `createTcpProxy()` but `route`, plus `default`. */
export interface SniProxyOptions extends Omit<TcpProxyOptions, 'route' | 'sni'> {
  /**
   * The balancer for connections whose server name no route matches, and for those without SNI.
   * @default undefined (such connections are closed: `connection:error` with reason `'no-route'`)
   */
  readonly default?: Balancer<TcpContext>
  /**
   * The ClientHello peek: `true` or `{ timeoutMs }` (time allowed for the ClientHello to arrive).
   * @default true (`createTcpProxy()`'s default SNI timeout, 3 s)
   */
  readonly sni?: true | SniOptions
}

function isBalancer(value: unknown): boolean {
  const b = value as { acquire?: unknown; release?: unknown } | null
  return (
    typeof b === 'object' && b !== null && typeof b.acquire === 'function' && typeof b.release === 'function'
  )
}

/**
 * Creates a TLS passthrough proxy routed by server name: each connection's ClientHello is peeked
 * (not terminated), its SNI routed with {@link sniRouter} rules (exact name, then one-label
 * wildcard, then `default`) to a balancer, and the bytes relayed untouched to the backend it picks
 * — the backend terminates TLS with its own certificate. Use it to put several TLS services behind
 * one port; for a custom routing rule use `createTcpProxy({ sni: true, route })` directly.
 *
 * A shorthand for `createTcpProxy({ ...options, sni: true, route: (ctx) => byName(ctx.serverName) })`:
 * all of the proxy's other options (timeouts, PROXY protocol, faults …) apply. A connection that is
 * not TLS or has a malformed ClientHello is closed (`connection:error` with reason `'sni'`).
 *
 * Throws `InvalidOptionError`: `routes["bad key"]` for a key that is not a host name or `*.` + one,
 * or whose value is not a balancer; `default` when it is not a balancer; `tcpProxy.*` for the
 * proxy's options.
 *
 * @param routes server name or `*.domain` wildcard → balancer.
 * @param options the proxy's options, plus `default`. @default {} (3 s SNI timeout, no default)
 * @example
 * ```ts
 * const proxy = createSniProxy(
 *   { 'api.example.com': apiLb, '*.example.com': webLb },
 *   { default: fallbackLb, sni: { timeoutMs: 5_000 }, connectTimeoutMs: 2_000 },
 * )
 * await proxy.listen({ port: 443 })
 * ```
 */
export function createSniProxy(
  routes: Readonly<Record<string, Balancer<TcpContext>>>,
  options: SniProxyOptions = {},
): TcpProxy {
  checkObject('options', options as unknown)
  const { default: fallback, sni, ...rest } = options
  if (fallback !== undefined && !isBalancer(fallback))
    throw new InvalidOptionError('default', `expected a Balancer, got ${describeValue(fallback)}`)
  if ((sni as unknown) === false)
    throw new InvalidOptionError('tcpProxy.sni', 'an SNI proxy must peek (true or { timeoutMs })')
  if ('route' in rest)
    throw new InvalidOptionError('tcpProxy.route', 'the routes come from the first argument')
  const table = buildNameTable<Balancer<TcpContext>, Balancer<TcpContext>>('routes', routes, (v, keyPath) => {
    if (!isBalancer(v)) throw new InvalidOptionError(keyPath, `expected a Balancer, got ${describeValue(v)}`)
    return v
  })
  const route = (ctx: TcpContext): Balancer<TcpContext> | undefined =>
    (ctx.serverName === undefined ? undefined : lookupName(table, ctx.serverName)) ?? fallback
  return createTcpProxy({ ...rest, sni: sni ?? true, route })
}

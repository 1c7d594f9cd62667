/**
 * Validation of {@link HttpProxyOptions} into the resolved configuration the exchange reads on
 * every request. Bad options throw `FULCRUM_ERR_INVALID_OPTION` with the option's path.
 */
import {
  type Balancer,
  checkKeys,
  checkObject,
  checkOneOf,
  checkString,
  InvalidOptionError,
  optionalFunction,
  optionalNumber,
} from '@fulcrum/core'
import { resolveTrust, type TrustFn } from './forwarded.js'
import type { HttpProxyOptions, ProxyHooks, StickyOptions, UpstreamOptions } from './options.js'
import { resolvePolicy, resolveUpstream, TIMEOUT, type UpstreamPolicy } from './shared-options.js'
import { StickyCookies } from './sticky.js'

/** @internal The resolved proxy configuration. */
export interface ProxyConfig extends UpstreamPolicy {
  /** The headers timeout of one attempt: `headersTimeoutMs`, or the balancer's `perTryTimeoutMs` if shorter. */
  readonly attemptTimeoutMs: number
  readonly maxReplayBodyBytes: number
  readonly trust: TrustFn
  readonly xForwarded: boolean
  readonly forwarded: boolean
  readonly via: string | undefined
  /** `1.1 <via>`, the common `Via` entry, built once. */
  readonly via11: string | undefined
  readonly preserveHost: boolean
  readonly sticky: StickyCookies | undefined
  readonly context: ((ctx: never) => unknown) | undefined
  readonly hooks: ProxyHooks
  readonly upstream: UpstreamOptions
  readonly websocketIdleMs: number | undefined
}

const KEYS = [
  'connectTimeoutMs',
  'headersTimeoutMs',
  'bodyTimeoutMs',
  'retries',
  'retryOnStatus',
  'maxReplayBodyBytes',
  'trustProxy',
  'xForwarded',
  'forwarded',
  'via',
  'preserveHost',
  'sticky',
  'context',
  'upstream',
  'websocket',
  'onRequest',
  'onUpstreamRequest',
  'onUpstreamResponse',
  'onError',
  'onLog',
]
const HOOKS = ['onRequest', 'onUpstreamRequest', 'onUpstreamResponse', 'onError', 'onLog'] as const
const VIA_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(?::\d+)?$/

function optionalBoolean(path: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean')
    throw new InvalidOptionError(path, `expected a boolean, got ${typeof value}`)
  return value
}

/** @internal Validates the options of `createHttpProxy()` (`path` prefixes option paths). */
export function resolveConfig<Ctx>(
  balancer: Balancer<Ctx>,
  options: HttpProxyOptions<Ctx> | undefined,
  path = 'options',
): ProxyConfig {
  const o = (options ?? {}) as HttpProxyOptions<Ctx>
  checkObject(path, o as unknown)
  checkKeys(path, o as Record<string, unknown>, KEYS)
  let via: string | undefined = 'fulcrum'
  if (o.via === false) via = undefined
  else if (o.via !== undefined) {
    checkString(`${path}.via`, o.via)
    if (!VIA_NAME.test(o.via))
      throw new InvalidOptionError(`${path}.via`, 'expected a token such as "edge-1"')
    via = o.via
  }
  const hooks: Record<string, unknown> = {}
  for (const h of HOOKS) {
    const fn = optionalFunction(`${path}.${h}`, o[h], undefined)
    if (fn !== undefined) hooks[h] = fn
  }
  let websocketIdleMs: number | undefined = 300_000
  if (o.websocket === false) websocketIdleMs = undefined
  else if (o.websocket !== undefined) {
    checkObject(`${path}.websocket`, o.websocket)
    checkKeys(`${path}.websocket`, o.websocket as Record<string, unknown>, ['idleTimeoutMs'])
    websocketIdleMs = optionalNumber(
      `${path}.websocket.idleTimeoutMs`,
      o.websocket.idleTimeoutMs,
      300_000,
      TIMEOUT,
    )
  }
  const policy = resolvePolicy(balancer as unknown as Balancer<never>, o, path)
  return {
    ...policy,
    attemptTimeoutMs: Math.min(policy.headersTimeoutMs, balancer.retryPolicy.perTryTimeoutMs),
    maxReplayBodyBytes: optionalNumber(`${path}.maxReplayBodyBytes`, o.maxReplayBodyBytes, 65_536, {
      min: 0,
      max: 64 * 1024 * 1024,
      integer: true,
    }),
    trust: resolveTrust(`${path}.trustProxy`, o.trustProxy),
    xForwarded: optionalBoolean(`${path}.xForwarded`, o.xForwarded, true),
    forwarded: optionalBoolean(`${path}.forwarded`, o.forwarded, false),
    via,
    via11: via === undefined ? undefined : `1.1 ${via}`,
    preserveHost: optionalBoolean(`${path}.preserveHost`, o.preserveHost, true),
    sticky:
      o.sticky === undefined
        ? undefined
        : new StickyCookies(balancer, resolveSticky(`${path}.sticky`, o.sticky)),
    context: optionalFunction(`${path}.context`, o.context, undefined) as ProxyConfig['context'],
    hooks: hooks as ProxyHooks,
    upstream: resolveUpstream(`${path}.upstream`, o.upstream),
    websocketIdleMs,
  }
}

/** @internal Sticky options with defaults applied. */
export type ResolvedSticky = Required<Omit<StickyOptions, 'maxAgeSeconds' | 'secret'>> & {
  readonly maxAgeSeconds: number | undefined
  readonly secret: string | undefined
}

function resolveSticky(path: string, s: StickyOptions): ResolvedSticky {
  checkObject(path, s as unknown)
  checkKeys(path, s as Record<string, unknown>, [
    'cookie',
    'secret',
    'path',
    'maxAgeSeconds',
    'secure',
    'httpOnly',
    'sameSite',
  ])
  const cookie = s.cookie ?? 'fulcrum_sticky'
  checkString(`${path}.cookie`, cookie)
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(cookie))
    throw new InvalidOptionError(`${path}.cookie`, 'expected a cookie name (an HTTP token)')
  if (s.secret !== undefined) checkString(`${path}.secret`, s.secret)
  const cookiePath = s.path ?? '/'
  checkString(`${path}.path`, cookiePath)
  if (!/^\/[^;\s]*$/.test(cookiePath))
    throw new InvalidOptionError(`${path}.path`, 'expected a path starting with /')
  return {
    cookie,
    secret: s.secret,
    path: cookiePath,
    maxAgeSeconds:
      s.maxAgeSeconds === undefined
        ? undefined
        : optionalNumber(`${path}.maxAgeSeconds`, s.maxAgeSeconds, 0, { min: 0, integer: true }),
    secure: optionalBoolean(`${path}.secure`, s.secure, false),
    httpOnly: optionalBoolean(`${path}.httpOnly`, s.httpOnly, true),
    sameSite:
      s.sameSite === undefined
        ? 'Lax'
        : checkOneOf(`${path}.sameSite`, s.sameSite, ['Strict', 'Lax', 'None']),
  }
}

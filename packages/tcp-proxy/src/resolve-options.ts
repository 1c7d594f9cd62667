import {
  checkArray,
  checkFunction,
  checkObject,
  checkOptions,
  describeValue,
  InvalidOptionError,
  optionalFunction,
  optionalNumber,
  parseTrustList,
} from '@fulcrum/core'
import type { ResolvedTcpProxyOptions, TcpProxyOptions } from './options.js'
import type { FaultHooks } from './types.js'

const PATH = 'tcpProxy'
const KEYS = [
  'route',
  'key',
  'connectTimeoutMs',
  'retries',
  'idleTimeoutMs',
  'noDelay',
  'acceptProxyProtocol',
  'sendProxyProtocol',
  'sni',
  'faults',
] as const
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000
const DEFAULT_RETRIES = 2
const DEFAULT_PREAMBLE_TIMEOUT_MS = 3_000
/** Node's timers take at most 2^31 - 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1

function optionalBoolean(path: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean')
    throw new InvalidOptionError(path, `expected a boolean, got ${describeValue(value)}`)
  return value
}

function timeout(path: string, value: unknown, fallback: number, min: number): number {
  return optionalNumber(path, value, fallback, { min, max: MAX_TIMER_MS, integer: true })
}

function resolveFaults(value: unknown): FaultHooks | undefined {
  if (value === undefined) return undefined
  const path = `${PATH}.faults`
  checkObject(path, value)
  for (const method of ['blackhole', 'wrap', 'closeDelayMs'])
    checkFunction(`${path}.${method}`, (value as Record<string, unknown>)[method])
  return value as unknown as FaultHooks
}

function resolveAccept(value: unknown): ResolvedTcpProxyOptions['acceptProxyProtocol'] {
  if (value === undefined) return undefined
  const path = `${PATH}.acceptProxyProtocol`
  const o = checkOptions(path, value, ['trusted', 'timeoutMs'])
  checkArray(`${path}.trusted`, o.trusted)
  return {
    trusted: parseTrustList(`${path}.trusted`, o.trusted),
    timeoutMs: timeout(`${path}.timeoutMs`, o.timeoutMs, DEFAULT_PREAMBLE_TIMEOUT_MS, 1),
  }
}

function resolveSni(value: unknown): number | undefined {
  if (value === undefined || value === false) return undefined
  if (value === true) return DEFAULT_PREAMBLE_TIMEOUT_MS
  const o = checkOptions(`${PATH}.sni`, value, ['timeoutMs'])
  return timeout(`${PATH}.sni.timeoutMs`, o.timeoutMs, DEFAULT_PREAMBLE_TIMEOUT_MS, 1)
}

function resolveSendProxy(value: unknown): 1 | 2 | undefined {
  if (value === undefined || value === 1 || value === 2) return value
  throw new InvalidOptionError(`${PATH}.sendProxyProtocol`, `expected 1 or 2, got ${describeValue(value)}`)
}

/** @internal Validates {@link TcpProxyOptions}; throws `InvalidOptionError` naming the bad option. */
export function resolveTcpProxyOptions(options: TcpProxyOptions | undefined): ResolvedTcpProxyOptions {
  const o = checkOptions(PATH, options, KEYS)
  return {
    route: optionalFunction(`${PATH}.route`, o.route, undefined),
    key: optionalFunction(`${PATH}.key`, o.key, undefined),
    connectTimeoutMs: timeout(`${PATH}.connectTimeoutMs`, o.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, 1),
    retries: optionalNumber(`${PATH}.retries`, o.retries, DEFAULT_RETRIES, {
      min: 0,
      max: 100,
      integer: true,
    }),
    idleTimeoutMs: timeout(`${PATH}.idleTimeoutMs`, o.idleTimeoutMs, 0, 0),
    noDelay: optionalBoolean(`${PATH}.noDelay`, o.noDelay, true),
    acceptProxyProtocol: resolveAccept(o.acceptProxyProtocol),
    sendProxyProtocol: resolveSendProxy(o.sendProxyProtocol),
    sniTimeoutMs: resolveSni(o.sni),
    faults: resolveFaults(o.faults),
  }
}

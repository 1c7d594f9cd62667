import {
  type AdminState,
  Backend,
  type BackendInit,
  type BackendSpec,
  type BackendStatsOptions,
} from './backend.js'
import { InvalidOptionError } from './errors.js'
import { checkKeys, checkNumber, checkObject, checkOneOf, checkString, describeValue } from './validate.js'

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'ws:': 80, 'wss:': 443 }
const INIT_KEYS = ['id', 'url', 'host', 'port', 'weight', 'zone', 'meta', 'admin'] as const
const ADMIN_STATES: readonly AdminState[] = ['active', 'draining', 'disabled']

/** Maximum weight; ring and table strategies normalise weights, so huge values buy nothing. */
export const MAX_WEIGHT = 1_000_000

/** @internal Validates a spec and creates its {@link Backend}; throws naming `path`. */
export function createBackend(spec: BackendSpec, path: string, stats: BackendStatsOptions): Backend {
  const init: BackendInit = typeof spec === 'string' ? { url: spec } : spec
  if (typeof spec !== 'string') {
    checkObject(path, spec)
    checkKeys(path, spec as Record<string, unknown>, INIT_KEYS)
  }
  let host: string
  let port: number
  let url: string | undefined
  if (init.url !== undefined) {
    const raw = checkString(`${path}.url`, init.url)
    const parsed = parseAddress(raw, typeof spec === 'string' ? path : `${path}.url`)
    host = parsed.host
    port = parsed.port
    url = parsed.url
    if (init.host !== undefined || init.port !== undefined)
      throw new InvalidOptionError(`${path}.host`, 'give either url or host and port, not both')
  } else {
    if (init.host === undefined)
      throw new InvalidOptionError(path, 'a backend needs a url or a host and port')
    host = checkString(`${path}.host`, init.host)
    if (/[\s/?#@]/.test(host))
      throw new InvalidOptionError(`${path}.host`, `not a host name: ${describeValue(host)}`)
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
    port = checkNumber(`${path}.port`, init.port, { min: 1, max: 65535, integer: true })
  }
  if (init.weight !== undefined) checkNumber(`${path}.weight`, init.weight, { min: 0, max: MAX_WEIGHT })
  if (init.zone !== undefined) checkString(`${path}.zone`, init.zone)
  if (init.meta !== undefined) checkObject(`${path}.meta`, init.meta)
  if (init.admin !== undefined) checkOneOf(`${path}.admin`, init.admin, ADMIN_STATES)
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
  const id = init.id === undefined ? (url ?? address) : checkString(`${path}.id`, init.id)
  return new Backend(id, host, port, url, init, stats)
}

/** Parses `scheme://host:port[/base]` or `host:port`. */
function parseAddress(raw: string, path: string): { host: string; port: number; url: string | undefined } {
  if (!raw.includes('://')) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:/?#@[\]]+):(\d{1,5})$/.exec(raw)
    if (m === null)
      throw new InvalidOptionError(path, `expected a URL or host:port, got ${describeValue(raw)}`)
    const port = Number(m[2])
    if (port < 1 || port > 65535)
      throw new InvalidOptionError(path, `port out of range in ${describeValue(raw)}`)
    const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!
    return { host, port, url: undefined }
  }
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    throw new InvalidOptionError(path, `not a valid URL: ${describeValue(raw)}`)
  }
  if (u.hostname === '') throw new InvalidOptionError(path, `URL has no host: ${describeValue(raw)}`)
  if (u.username !== '' || u.password !== '')
    throw new InvalidOptionError(path, 'credentials in a backend URL are not supported; use meta or headers')
  if (u.search !== '' || u.hash !== '')
    throw new InvalidOptionError(path, `a backend URL takes no query or fragment: ${describeValue(raw)}`)
  const port = u.port === '' ? DEFAULT_PORTS[u.protocol] : Number(u.port)
  if (port === undefined)
    throw new InvalidOptionError(path, `URL needs an explicit port: ${describeValue(raw)}`)
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
  const base = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '')
  return { host, port, url: `${u.protocol}//${u.host}${base}` }
}

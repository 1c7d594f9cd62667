/**
 * Forwarding headers: `X-Forwarded-For/-Proto/-Host`, RFC 7239 `Forwarded` and `Via` (RFC 9110
 * §7.6.3), with the trust model: values that arrive from an untrusted peer are discarded and
 * replaced with what the proxy itself saw; a trusted peer's values are kept and extended.
 */
import { isIP } from 'node:net'
import { InvalidOptionError, parseTrustList, unmapIPv4 } from '@fulcrum/core'
import type { TrustProxy } from './options.js'

/** @internal Decides whether a peer address may set forwarding headers. */
export type TrustFn = (address: string) => boolean

const never: TrustFn = () => false
const always: TrustFn = () => true

/** @internal Validates the `trustProxy` option into a predicate. */
export function resolveTrust(path: string, value: TrustProxy | undefined): TrustFn {
  if (value === undefined || value === false) return never
  if (value === true) return always
  if (typeof value === 'function') return value
  if (Array.isArray(value)) {
    const list = parseTrustList(path, value)
    return (address) => list.has(address)
  }
  throw new InvalidOptionError(path, 'expected a boolean, a list of IPs/CIDR subnets or a function')
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** @internal A `Forwarded` node for an address: IPv6 is bracketed and quoted (RFC 7239 §6). */
export function forwardedNode(address: string): string {
  return address.includes(':') ? `"[${address}]"` : address
}

/** @internal A `Forwarded` parameter value, quoted when it is not a token (e.g. `host:port`). */
export function forwardedValue(value: string): string {
  return TOKEN.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`
}

/** @internal The `Forwarded` element this proxy appends: `for=…;host=…;proto=…`. */
export function forwardedElement(address: string, host: string | undefined, proto: string): string {
  let out = `for=${forwardedNode(address)}`
  if (host !== undefined && host.length > 0) out += `;host=${forwardedValue(host)}`
  return `${out};proto=${proto}`
}

/** @internal Joins an incoming list value with this hop's entry. */
export function appendList(incoming: string | undefined, entry: string): string {
  return incoming === undefined || incoming.length === 0 ? entry : `${incoming}, ${entry}`
}

/** @internal `Via` received-protocol for an HTTP version: `1.1`, `1.0`, `2`. */
export function viaProtocol(httpVersion: string): string {
  return httpVersion === '2.0' ? '2' : httpVersion
}

/**
 * @internal The original client's address: the peer itself, unless it is trusted and sent
 * `X-Forwarded-For`; then the right-most entry that is not a trusted proxy (Express `req.ip`
 * semantics), which a client cannot forge past the first untrusted hop.
 */
export function clientAddressOf(peer: string, xff: string | string[] | undefined, trust: TrustFn): string {
  if (xff === undefined || !trust(peer)) return peer
  const hops = (Array.isArray(xff) ? xff.join(',') : xff).split(',')
  let client = peer
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = unmapIPv4(hops[i]!.trim())
    if (isIP(hop) === 0) break
    client = hop
    if (!trust(hop)) break
  }
  return client
}

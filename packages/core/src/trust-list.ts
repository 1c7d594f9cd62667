import net from 'node:net'
import { InvalidOptionError } from './errors.js'

const MAPPED = '::ffff:'

/**
 * `::ffff:10.0.0.1` → `10.0.0.1`; any other address unchanged. Sockets on a dual-stack listener
 * report IPv4 clients in this mapped form.
 *
 * @example
 * ```ts
 * unmapIPv4(socket.remoteAddress ?? '')
 * ```
 */
export function unmapIPv4(address: string): string {
  return address.length > MAPPED.length &&
    address.slice(0, MAPPED.length).toLowerCase() === MAPPED &&
    net.isIPv4(address.slice(MAPPED.length))
    ? address.slice(MAPPED.length)
    : address
}

/**
 * A set of trusted peers — exact IPs and CIDR subnets — on a `net.BlockList` (checked in C++, no
 * per-lookup allocation). The proxies use it to decide whose PROXY header or forwarding headers
 * they believe. Build it with {@link parseTrustList}.
 *
 * @example
 * ```ts
 * const trusted = parseTrustList('trustProxy', ['10.0.0.0/8', '::1'])
 * trusted.has('10.1.2.3') // true
 * ```
 */
export class TrustList {
  readonly #list = new net.BlockList()

  /** Adds one `ip` or `ip/prefix` entry; false when it is neither. */
  add(entry: string): boolean {
    const slash = entry.indexOf('/')
    const ip = unmapIPv4(slash < 0 ? entry : entry.slice(0, slash))
    const family = net.isIP(ip)
    if (family === 0) return false
    const type = family === 4 ? 'ipv4' : 'ipv6'
    if (slash < 0) {
      this.#list.addAddress(ip, type)
      return true
    }
    const text = entry.slice(slash + 1)
    const prefix = Number(text)
    if (!/^\d{1,3}$/.test(text) || prefix > (family === 4 ? 32 : 128)) return false
    this.#list.addSubnet(ip, prefix, type)
    return true
  }

  /** True when `address` (as a socket reports it; IPv4-mapped IPv6 included) is trusted. */
  has(address: string | undefined): boolean {
    if (address === undefined) return false
    const ip = unmapIPv4(address)
    const family = net.isIP(ip)
    if (family === 0) return false
    return this.#list.check(ip, family === 4 ? 'ipv4' : 'ipv6')
  }
}

/**
 * Builds a {@link TrustList}, throwing `InvalidOptionError` at `path[i]` on a bad entry.
 *
 * @example
 * ```ts
 * parseTrustList('trusted', ['127.0.0.1', '10.0.0.0/8'])
 * ```
 */
export function parseTrustList(path: string, entries: readonly unknown[]): TrustList {
  const list = new TrustList()
  entries.forEach((entry, i) => {
    if (typeof entry !== 'string' || !list.add(entry))
      throw new InvalidOptionError(
        `${path}[${i}]`,
        `expected an IP address or a CIDR subnet (10.0.0.0/8), got ${JSON.stringify(entry)}`,
      )
  })
  return list
}

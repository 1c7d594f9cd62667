import net from 'node:net'
import { InvalidOptionError } from '@fulcrum/core'
import { unmapIPv4 } from './addresses.js'

/**
 * @internal The set of peers allowed to send a PROXY header: exact IPs and CIDR subnets, on a
 * `net.BlockList` (checked in C++, no per-connection allocation).
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

/** @internal Builds a {@link TrustList}, throwing `InvalidOptionError` at `path[i]` on a bad entry. */
export function parseTrusted(path: string, entries: readonly unknown[]): TrustList {
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

import { checkOptions } from '@fulcrum/core'

/**
 * A blackhole toxic (see {@link blackhole}); a frozen value.
 *
 * @example
 * ```ts
 * const hole: BlackholeToxic = blackhole()
 * ```
 */
export interface BlackholeToxic {
  readonly kind: 'blackhole'
}

/**
 * Makes a backend (or the whole proxy) accept connections and never answer. Added for both
 * directions (the default), it makes {@link Faults.blackhole} return true, so the proxy accepts new
 * connections and never relays them. Added for one direction, it silently drops the bytes of that
 * direction on every connection it applies to, new and live (requests that never arrive, or replies
 * that never come back), while the connection stays open.
 *
 * Use it to test connect and read timeouts, hung dependencies and health checks that must notice a
 * peer that accepts but does not answer.
 *
 * @param options takes no options (any key throws `InvalidOptionError`, path `faults.blackhole.*`)
 * @example
 * ```ts
 * faults.add(blackhole(), { backend: 'db-2' }) // new connections to db-2 hang
 * ```
 */
export function blackhole(options?: Readonly<Record<string, never>>): BlackholeToxic {
  checkOptions('faults.blackhole', options, [])
  return Object.freeze({ kind: 'blackhole' })
}

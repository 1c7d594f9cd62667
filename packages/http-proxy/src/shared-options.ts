/**
 * Option checks shared by the reverse proxy and the balanced dispatcher: upstream pools, the three
 * timeouts, and the retry count and statuses. Each throws `FULCRUM_ERR_INVALID_OPTION` with the
 * option's path.
 */
import {
  type Balancer,
  checkArray,
  checkKeys,
  checkObject,
  optionalFunction,
  optionalNumber,
} from '@fulcrum/core'
import type { UpstreamOptions } from './options.js'

/** @internal Limits of a timeout option, in ms. */
export const TIMEOUT = { min: 1, max: 2_147_483_647, integer: true }

/** @internal Upstream pool options, validated (returned as given). */
export function resolveUpstream(path: string, u: UpstreamOptions | undefined): UpstreamOptions {
  if (u === undefined) return {}
  checkObject(path, u as unknown)
  checkKeys(path, u as Record<string, unknown>, ['connections', 'keepAliveTimeoutMs', 'tls', 'factory'])
  optionalNumber(`${path}.connections`, u.connections, 256, { min: 1, integer: true })
  optionalNumber(`${path}.keepAliveTimeoutMs`, u.keepAliveTimeoutMs, 4_000, TIMEOUT)
  optionalFunction(`${path}.factory`, u.factory, undefined)
  if (u.tls !== undefined && typeof u.tls !== 'function') checkObject(`${path}.tls`, u.tls)
  return u
}

/** @internal The timeouts and retry settings both front ends share. */
export interface UpstreamPolicy {
  readonly connectTimeoutMs: number
  readonly headersTimeoutMs: number
  readonly bodyTimeoutMs: number
  readonly retries: number
  readonly retryOnStatus: ReadonlySet<number>
}

interface PolicyOptions {
  readonly connectTimeoutMs?: number
  readonly headersTimeoutMs?: number
  readonly bodyTimeoutMs?: number
  readonly retries?: number
  readonly retryOnStatus?: readonly number[]
}

/**
 * @internal Validates timeouts (connect 5 s, headers 60 s, body idle 60 s), `retries` (the
 * balancer's `.retry()` count when configured, else 2) and `retryOnStatus` (502, 503, 504).
 */
export function resolvePolicy(balancer: Balancer<never>, o: PolicyOptions, path: string): UpstreamPolicy {
  const policy = balancer.retryPolicy
  const statuses = o.retryOnStatus ?? [502, 503, 504]
  checkArray(`${path}.retryOnStatus`, statuses)
  const retryOnStatus = new Set<number>()
  statuses.forEach((s, i) => {
    optionalNumber(`${path}.retryOnStatus[${i}]`, s, 0, { min: 200, max: 599, integer: true })
    retryOnStatus.add(s)
  })
  return {
    connectTimeoutMs: optionalNumber(`${path}.connectTimeoutMs`, o.connectTimeoutMs, 5_000, TIMEOUT),
    headersTimeoutMs: optionalNumber(`${path}.headersTimeoutMs`, o.headersTimeoutMs, 60_000, TIMEOUT),
    bodyTimeoutMs: optionalNumber(`${path}.bodyTimeoutMs`, o.bodyTimeoutMs, 60_000, TIMEOUT),
    retries: optionalNumber(`${path}.retries`, o.retries, policy.configured ? policy.retries : 2, {
      min: 0,
      max: 100,
      integer: true,
    }),
    retryOnStatus,
  }
}

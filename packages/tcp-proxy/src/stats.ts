import type { Backend } from '@fulcrum/core'

/**
 * Traffic through the proxy to one backend, since the proxy was created.
 *
 * @example
 * ```ts
 * const t = proxy.stats().backends.get('db-1')
 * if (t && t.connectFailures > 0) log.warn(`db-1 refused ${t.connectFailures} connects`)
 * ```
 */
export interface BackendTraffic {
  /** Connections relayed to it (opened, closed or not). */
  readonly connections: number
  /** Connections open to it right now. */
  readonly active: number
  /** Connect attempts that failed (refused, unreachable, timed out). */
  readonly connectFailures: number
  /** Bytes from clients delivered to it. */
  readonly bytesIn: number
  /** Bytes from it delivered to clients. */
  readonly bytesOut: number
}

/**
 * What `proxy.stats()` returns: a snapshot, exact at the time of the call (bytes of open
 * connections included).
 *
 * @example
 * ```ts
 * const { active, total, backends } = proxy.stats()
 * for (const [id, t] of backends) console.log(id, t.active, t.bytesIn, t.bytesOut)
 * ```
 */
export interface TcpProxyStats {
  /** Connections accepted and not yet closed (routing, connecting or relaying). */
  readonly active: number
  /** Connections accepted since the proxy was created. */
  readonly total: number
  /** Connections closed with a `connection:error` (nothing relayed). */
  readonly errors: number
  /** Bytes from clients delivered to backends. */
  readonly bytesIn: number
  /** Bytes from backends delivered to clients. */
  readonly bytesOut: number
  /** Per backend id (backends of every routed balancer; ids are assumed unique across them). */
  readonly backends: ReadonlyMap<string, BackendTraffic>
}

/** @internal The mutable record behind a {@link BackendTraffic}. */
export interface TrafficRecord {
  connections: number
  active: number
  connectFailures: number
  /** Bytes of closed connections; open ones are added by `snapshot()`. */
  bytesIn: number
  bytesOut: number
}

/** @internal What the book needs to know of a live connection. */
export interface LiveTraffic {
  readonly traffic: TrafficRecord | undefined
  readonly backend: Backend | undefined
  readonly bytesIn: number
  readonly bytesOut: number
}

/**
 * @internal Counters per backend and for the whole proxy. The relay's hot path only bumps the
 * connection's own two counters; they are added here when the connection closes, and summed over
 * open connections when a snapshot is taken.
 */
export class TrafficBook {
  readonly #byId = new Map<string, TrafficRecord>()
  total = 0
  errors = 0
  bytesIn = 0
  bytesOut = 0

  /** The record of `backend`, created on first use. */
  record(backend: Backend): TrafficRecord {
    let r = this.#byId.get(backend.id)
    if (r === undefined) {
      r = { connections: 0, active: 0, connectFailures: 0, bytesIn: 0, bytesOut: 0 }
      this.#byId.set(backend.id, r)
    }
    return r
  }

  /** Books the bytes of a connection that just closed. */
  close(bytesIn: number, bytesOut: number, traffic: TrafficRecord | undefined): void {
    this.bytesIn += bytesIn
    this.bytesOut += bytesOut
    if (traffic === undefined) return
    traffic.bytesIn += bytesIn
    traffic.bytesOut += bytesOut
  }

  /** A snapshot including the bytes of `live` connections. */
  snapshot(live: Iterable<LiveTraffic>): TcpProxyStats {
    const backends = new Map<string, TrafficRecord>()
    for (const [id, r] of this.#byId) backends.set(id, { ...r })
    let bytesIn = this.bytesIn
    let bytesOut = this.bytesOut
    let active = 0
    for (const c of live) {
      active++
      bytesIn += c.bytesIn
      bytesOut += c.bytesOut
      const r = c.backend === undefined || c.traffic === undefined ? undefined : backends.get(c.backend.id)
      if (r === undefined) continue
      r.bytesIn += c.bytesIn
      r.bytesOut += c.bytesOut
    }
    return { active, total: this.total, errors: this.errors, bytesIn, bytesOut, backends }
  }
}

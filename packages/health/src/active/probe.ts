import type { Backend } from '@fulcrum/core'

/**
 * What one probe of a backend found. `immediate` marks the backend down at once, ignoring `fall`
 * (an HTTP `failStatus`).
 *
 * @example
 * ```ts
 * const result: ProbeResult = { ok: false, reason: 'status 503' }
 * ```
 */
export interface ProbeResult {
  readonly ok: boolean
  /** `'ok'` for a pass; why it failed otherwise (`'status 503'`, `'connect ECONNREFUSED'` …). */
  readonly reason: string
  readonly immediate?: boolean
}

/**
 * The result of every passed probe (shared, so passing allocates nothing).
 *
 * @example
 * ```ts
 * const probe: Probe = { kind: 'always', check: async () => PASS }
 * ```
 */
export const PASS: ProbeResult = Object.freeze({ ok: true, reason: 'ok' })

/**
 * The protocol half of an active check (TCP connect, HTTP request, user function); the engine
 * (`ActiveChecker`) does the scheduling, timeouts, rise/fall and membership.
 *
 * @example
 * ```ts
 * const probe: Probe = { kind: 'fn', check: async (b, signal) => ((await ping(b, signal)) ? PASS : { ok: false, reason: 'no pong' }) }
 * ```
 */
export interface Probe {
  /** Short kind for the check's name: `'tcp'`, `'http'`, `'fn'`. */
  readonly kind: string
  /**
   * Probes `backend` once. Must end promptly when `signal` aborts (the engine then ignores the
   * result); a rejection counts as a failure whose reason comes from the error.
   */
  check(backend: Backend, signal: AbortSignal): Promise<ProbeResult>
  /** Releases what the probe keeps for `backend` (a pooled connection), when it leaves the pool. */
  forget?(backend: Backend): void
  /** Releases everything, when the check closes. */
  close?(): Promise<void>
}

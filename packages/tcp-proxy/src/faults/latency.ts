import { checkNumber, checkOptions, optionalNumber } from '@fulcrum/core'

/**
 * @internal The longest delay a timer can express (2³¹ − 1 ms, about 24.8 days): the upper bound of
 * every `ms` option of the toxics.
 *
 * @example
 * ```ts
 * latency({ ms: MAX_DELAY_MS }) // the slowest link there is
 * ```
 */
export const MAX_DELAY_MS = 2_147_483_647

/**
 * Options of {@link latency}.
 *
 * @example
 * ```ts
 * const options: LatencyOptions = { ms: 100, jitterMs: 20 }
 * ```
 */
export interface LatencyOptions {
  /** Delay added to every chunk, in ms (0 – 2³¹ − 1). Required. */
  readonly ms: number
  /** Extra delay drawn uniformly from [0, jitterMs) per chunk, in ms. @default 0 */
  readonly jitterMs?: number
}

/**
 * A latency toxic (see {@link latency}); a frozen value, safe to add to several {@link Faults}.
 *
 * @example
 * ```ts
 * const slow: LatencyToxic = latency({ ms: 50 }) // { kind: 'latency', ms: 50, jitterMs: 0 }
 * ```
 */
export interface LatencyToxic {
  readonly kind: 'latency'
  /** Fixed delay per chunk, in ms. */
  readonly ms: number
  /** Upper bound of the uniform extra delay per chunk, in ms. */
  readonly jitterMs: number
}

/**
 * Delays every chunk in the toxic's direction by `ms` plus a uniform jitter in [0, `jitterMs`)
 * (drawn from the `random` of {@link FaultsOptions}), keeping the byte order: a chunk is never
 * released before the one ahead of it, so a small jitter cannot reorder data. Several latency toxics
 * that apply to the same stream add up.
 *
 * The delay is read from the registry when a chunk is due, so adding or removing a latency toxic
 * also reschedules chunks already queued on live connections. While chunks wait, the stream buffers
 * at most `maxBufferBytes` ({@link FaultsOptions}) before it applies backpressure, which caps the
 * throughput at about `maxBufferBytes / ms` — like a TCP window over a long link.
 *
 * Use it to test timeouts, hedging and latency-aware strategies against a slow dependency.
 *
 * @param options `ms` (required) and `jitterMs` (@default 0); throws `InvalidOptionError` with paths
 *   `faults.latency.ms` and `faults.latency.jitterMs`.
 * @example
 * ```ts
 * const faults = new Faults()
 * faults.add(latency({ ms: 200, jitterMs: 50 }), { backend: 'db-1', direction: 'downstream' })
 * ```
 */
export function latency(options: LatencyOptions): LatencyToxic {
  const o = checkOptions('faults.latency', options, ['ms', 'jitterMs'])
  const ms = checkNumber('faults.latency.ms', o.ms, { min: 0, max: MAX_DELAY_MS })
  const jitterMs = optionalNumber('faults.latency.jitterMs', o.jitterMs, 0, { min: 0, max: MAX_DELAY_MS })
  return Object.freeze({ kind: 'latency', ms, jitterMs })
}

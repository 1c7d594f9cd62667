import { checkNumber, checkOptions, optionalNumber } from '@fulcrum/core'

/** The default burst cap: 16 KiB. */
const MAX_DEFAULT_BURST = 16 * 1024

/**
 * Options of {@link bandwidth}.
 *
 * @example
 * ```ts
 * const options: BandwidthOptions = { bytesPerSecond: 512 * 1024 }
 * ```
 */
export interface BandwidthOptions {
  /** Sustained rate, in bytes per second (> 0, finite). Required. */
  readonly bytesPerSecond: number
  /**
   * Token bucket size, in bytes (an integer ≥ 1): the most the stream sends at once after an idle
   * period, and the largest piece a chunk is split into.
   * @default 50 ms worth of `bytesPerSecond`, at most 16 KiB and at least 1 byte
   */
  readonly burstBytes?: number
}

/**
 * A bandwidth toxic (see {@link bandwidth}); a frozen value.
 *
 * @example
 * ```ts
 * const dsl: BandwidthToxic = bandwidth({ bytesPerSecond: 128 * 1024 })
 * ```
 */
export interface BandwidthToxic {
  readonly kind: 'bandwidth'
  /** Sustained rate, in bytes per second. */
  readonly bytesPerSecond: number
  /** Token bucket size, in bytes. */
  readonly burstBytes: number
}

/**
 * Limits the rate in the toxic's direction with a token bucket of `burstBytes`: chunks are split
 * into pieces no larger than the tokens available (the stream waits for a quarter of the bucket, or
 * the rest of a smaller chunk, then sends what the bucket holds), so over any interval of `t`
 * seconds the stream sends at most `burstBytes + bytesPerSecond × t` bytes. The
 * stream stops reading (backpressure) while it waits, so the sender slows down too and memory stays
 * bounded. When several bandwidth toxics apply, the slowest wins. Changes apply to live connections
 * at the next piece.
 *
 * Use it to test streaming, upload progress and timeouts over a slow link.
 *
 * @param options `bytesPerSecond` (required) and `burstBytes` (@default 50 ms worth, ≤ 16 KiB);
 *   throws `InvalidOptionError` with paths `faults.bandwidth.bytesPerSecond` and
 *   `faults.bandwidth.burstBytes`.
 * @example
 * ```ts
 * faults.add(bandwidth({ bytesPerSecond: 512 * 1024 }), { direction: 'downstream' }) // 1 MiB takes ≈ 2 s
 * ```
 */
export function bandwidth(options: BandwidthOptions): BandwidthToxic {
  const o = checkOptions('faults.bandwidth', options, ['bytesPerSecond', 'burstBytes'])
  const bytesPerSecond = checkNumber('faults.bandwidth.bytesPerSecond', o.bytesPerSecond, {
    min: 0,
    minExclusive: true,
  })
  const fallback = Math.max(1, Math.min(MAX_DEFAULT_BURST, Math.floor(bytesPerSecond / 20)))
  const burstBytes = optionalNumber('faults.bandwidth.burstBytes', o.burstBytes, fallback, {
    min: 1,
    integer: true,
  })
  return Object.freeze({ kind: 'bandwidth', bytesPerSecond, burstBytes })
}

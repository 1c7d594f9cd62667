import { checkNumber, checkOptions } from '@fulcrum/core'
import { MAX_DELAY_MS } from './latency.js'

/**
 * Options of {@link slowClose}.
 *
 * @example
 * ```ts
 * const options: SlowCloseOptions = { ms: 500 }
 * ```
 */
export interface SlowCloseOptions {
  /** How long the proxy holds a close (FIN) before forwarding it, in ms (0 – 2³¹ − 1). Required. */
  readonly ms: number
}

/**
 * A slow-close toxic (see {@link slowClose}); a frozen value.
 *
 * @example
 * ```ts
 * const linger: SlowCloseToxic = slowClose({ ms: 1_000 })
 * ```
 */
export interface SlowCloseToxic {
  readonly kind: 'slowClose'
  /** Delay before forwarding a close, in ms. */
  readonly ms: number
}

/**
 * Delays forwarding a close (FIN) in the toxic's direction by `ms`: {@link Faults.closeDelayMs}
 * returns it (the largest, when several apply) and the proxy waits that long before ending the
 * other side. Data is not delayed. It applies to every close that happens while it is registered,
 * on new and live connections.
 *
 * Use it to test code that waits for the end of a response (HTTP/1.0 style bodies, drains, graceful
 * shutdown) and connection pools that must not reuse a half-closed socket.
 *
 * @param options `ms` (required); throws `InvalidOptionError` with path `faults.slowClose.ms`.
 * @example
 * ```ts
 * faults.add(slowClose({ ms: 2_000 }), { direction: 'downstream' })
 * ```
 */
export function slowClose(options: SlowCloseOptions): SlowCloseToxic {
  const o = checkOptions('faults.slowClose', options, ['ms'])
  const ms = checkNumber('faults.slowClose.ms', o.ms, { min: 0, max: MAX_DELAY_MS })
  return Object.freeze({ kind: 'slowClose', ms })
}

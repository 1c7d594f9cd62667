import { checkNumber, checkOptions, optionalNumber } from '@fulcrum/core'
import { MAX_DELAY_MS } from './latency.js'

/**
 * Options of {@link resetAfter}.
 *
 * @example
 * ```ts
 * const options: ResetAfterOptions = { bytes: 4096 }
 * ```
 */
export interface ResetAfterOptions {
  /** How many bytes pass before the reset (an integer ≥ 0). Required. */
  readonly bytes: number
  /**
   * How long to wait after the last byte has been handed on before resetting, in ms (0 – 2³¹ − 1);
   * bytes arriving meanwhile are discarded. With 0 the RST can reach the peer in the same instant as
   * the last bytes, and a Node peer that reads both in one event-loop turn sees a clean end instead
   * of `ECONNRESET` (libuv reports a hang-up after a partial read as EOF): give a few ms when the
   * test asserts on the error code.
   * @default 0
   */
  readonly delayMs?: number
}

/**
 * A reset-after toxic (see {@link resetAfter}); a frozen value.
 *
 * @example
 * ```ts
 * const cut: ResetAfterToxic = resetAfter({ bytes: 1024 })
 * ```
 */
export interface ResetAfterToxic {
  readonly kind: 'resetAfter'
  /** Bytes let through before the reset. */
  readonly bytes: number
  /** Wait between the last byte and the reset, in ms. */
  readonly delayMs: number
}

/**
 * Resets the connection after exactly `bytes` bytes have passed in the toxic's direction: the
 * receiver gets those bytes, then the fault stream is destroyed with a {@link FaultResetError}
 * (`code: 'ECONNRESET'`), on which the proxy resets both sockets. The error is raised only once the
 * last byte has been handed to the destination socket, and later input is discarded.
 *
 * Bytes are counted per connection and direction, from when the toxic started to apply to it: from
 * the connection's start for a toxic present when it opened, from the moment of `add()` for a live
 * connection (earlier traffic does not count). With `bytes: 0` the connection is reset as soon as
 * the toxic applies. When several apply, the first to run out wins. The reset follows the last byte at
 * once, or after `delayMs`.
 *
 * Use it to test how a client handles a connection dropped mid-response (partial reads, retries of
 * non-idempotent requests, reconnect logic).
 *
 * @param options `bytes` (required) and `delayMs` (@default 0); throws `InvalidOptionError` with
 *   paths `faults.resetAfter.bytes` and `faults.resetAfter.delayMs`.
 * @example
 * ```ts
 * faults.add(resetAfter({ bytes: 100 }), { backend: 'redis-1', direction: 'downstream' })
 * ```
 */
export function resetAfter(options: ResetAfterOptions): ResetAfterToxic {
  const o = checkOptions('faults.resetAfter', options, ['bytes', 'delayMs'])
  const bytes = checkNumber('faults.resetAfter.bytes', o.bytes, { min: 0, integer: true })
  const delayMs = optionalNumber('faults.resetAfter.delayMs', o.delayMs, 0, { min: 0, max: MAX_DELAY_MS })
  return Object.freeze({ kind: 'resetAfter', bytes, delayMs })
}

import { type Backend, checkFunction } from '@fulcrum/core'
import { ActiveChecker, type ActiveHealthCheck } from './checker.js'
import { type ActiveCheckOptions, resolveActiveOptions } from './options.js'
import { PASS, type Probe, type ProbeResult } from './probe.js'
import { messageReason } from './reason.js'

/**
 * The function of {@link fnCheck}: probes `backend` once. Resolving to anything but `false` passes;
 * `false` fails (`'returned false'`); throwing or rejecting fails with the error's message. Honour
 * `signal`: it aborts when the check times out or the balancer closes.
 *
 * @example
 * ```ts
 * const ping: CheckFn = async (b, signal) => (await redisPing(b.host, b.port, { signal })) === 'PONG'
 * ```
 */
export type CheckFn = (backend: Backend, signal: AbortSignal) => unknown

/**
 * Options of {@link fnCheck}: only the common ones.
 *
 * @example
 * ```ts
 * const options: FnCheckOptions = { intervalMs: 10_000, timeoutMs: 3_000, fall: 2 }
 * ```
 */
export type FnCheckOptions = ActiveCheckOptions

const RETURNED_FALSE: ProbeResult = Object.freeze({ ok: false, reason: 'returned false' })

class FnProbe implements Probe {
  readonly kind = 'fn'
  readonly #fn: CheckFn

  constructor(fn: CheckFn) {
    this.#fn = fn
  }

  async check(backend: Backend, signal: AbortSignal): Promise<ProbeResult> {
    try {
      return (await this.#fn(backend, signal)) === false ? RETURNED_FALSE : PASS
    } catch (err) {
      return { ok: false, reason: messageReason(err) }
    }
  }
}

/**
 * An active health check that calls your function: for protocols other than TCP and HTTP (a
 * database ping, a gRPC health call, a file on disk), with the same rise/fall, intervals, jitter,
 * timeout and scheduling as `httpCheck()`. A call still running after `timeoutMs` fails the check
 * (`'timeout after N ms'`) and its `signal` aborts. Calls for one backend never overlap.
 *
 * @param fn resolves to `false` (or throws) when the backend is unhealthy
 * @param options see {@link ActiveCheckOptions}; the source defaults to `'active:fn'`
 * @example
 * ```ts
 * const lb = createBalancer()
 *   .backends(['10.0.0.1:5432', '10.0.0.2:5432'])
 *   .health(fnCheck(async (b, signal) => (await pg.ping(b.host, b.port, { signal })) === 'ok', { intervalMs: 2_000 }))
 *   .build()
 * ```
 */
export function fnCheck(fn: CheckFn, options?: FnCheckOptions): ActiveHealthCheck {
  checkFunction('fnCheck.fn', fn)
  return new ActiveChecker(resolveActiveOptions('fnCheck', options, [], 'active:fn'), new FnProbe(fn))
}

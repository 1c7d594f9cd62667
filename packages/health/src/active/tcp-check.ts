import { connect } from 'node:net'
import type { Backend } from '@fulcrum/core'
import { ActiveChecker, type ActiveHealthCheck } from './checker.js'
import { type ActiveCheckOptions, optionalPort, resolveActiveOptions } from './options.js'
import { PASS, type Probe, type ProbeResult } from './probe.js'
import { errorReason } from './reason.js'

/**
 * Options of {@link tcpCheck}.
 *
 * @example
 * ```ts
 * const options: TcpCheckOptions = { port: 9100, intervalMs: 2_000 }
 * ```
 */
export interface TcpCheckOptions extends ActiveCheckOptions {
  /** Port to connect to instead of the backend's own (a separate health port). @default the backend's port */
  readonly port?: number
}

class TcpProbe implements Probe {
  readonly kind = 'tcp'
  readonly #port: number | undefined

  constructor(port: number | undefined) {
    this.#port = port
  }

  check(backend: Backend, signal: AbortSignal): Promise<ProbeResult> {
    return new Promise<ProbeResult>((resolve) => {
      const socket = connect({ host: backend.host, port: this.#port ?? backend.port })
      let settled = false
      const done = (result: ProbeResult): void => {
        if (settled) return
        settled = true
        signal.removeEventListener('abort', onAbort)
        socket.destroy()
        resolve(result)
      }
      const onAbort = (): void => done({ ok: false, reason: 'aborted' })
      socket.once('connect', () => done(PASS))
      // `on`, not `once`: a late second error must not become an uncaught exception.
      socket.on('error', (err) => done({ ok: false, reason: errorReason(err) }))
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
    })
  }
}

/**
 * An active health check that opens a TCP connection to each backend (`host:port`, or `port`) and
 * closes it at once: the check passes when the connection is established. Catches dead hosts,
 * stopped processes and firewall drops; not a hung application (use `httpCheck()` for that).
 * Failure reasons: `'connect ECONNREFUSED'`, `'timeout after 2000 ms'` …
 *
 * @param options see {@link TcpCheckOptions}; the source defaults to `'active:tcp'`
 * @example
 * ```ts
 * const lb = createBalancer()
 *   .backends(['10.0.0.1:6379', '10.0.0.2:6379'])
 *   .health(tcpCheck({ intervalMs: 2_000, rise: 2, fall: 3 }))
 *   .build()
 * ```
 */
export function tcpCheck(options?: TcpCheckOptions): ActiveHealthCheck {
  const resolved = resolveActiveOptions('tcpCheck', options, ['port'], 'active:tcp')
  const port = optionalPort('tcpCheck.port', (options as { port?: unknown } | undefined)?.port)
  return new ActiveChecker(resolved, new TcpProbe(port))
}

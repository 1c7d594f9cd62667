import type { Backend } from '@fulcrum/core'
import type { SimulatedBackend } from './simulated-backend.js'

/** The synthetic backend behind each core `Backend` of a running `simulate()`; filled by simulate(). */
const synthetic = new WeakMap<Backend, SimulatedBackend>()

/** @internal simulate() ties a balancer's backend to the synthetic backend that answers for it. */
export function registerSimulated(backend: Backend, sim: SimulatedBackend): void {
  synthetic.set(backend, sim)
}

/**
 * Health-probes a synthetic backend of `simulate()`: the function to give `fnCheck()` of
 * `@fulcrum/health`, so that active health checks run inside a simulation, on its virtual clock.
 *
 * A probe models a `GET /healthz`: while the backend is alive it resolves after a latency drawn
 * from the backend's distribution (× its `slow` factor, so a very slow backend times its checks
 * out), whatever its `errorRate` (which models failures of individual requests, not of the health
 * endpoint); while it is dead it rejects with an `ECONNREFUSED` error after 1 ms, and a probe in
 * flight when it dies rejects with `ECONNRESET`. It rejects with `signal.reason` when `signal`
 * aborts (the check's timeout, the balancer's `close()`). Probes draw their latencies from their
 * own random stream and are not requests: they appear in no report counter.
 *
 * Outside a running `simulate()` (a backend of a balancer you built yourself), it rejects with a
 * `TypeError`, which a health check books as a failed check. An active check serves one balancer,
 * so build a fresh `fnCheck()` (and builder) for each `simulate()` call.
 *
 * @example
 * ```ts
 * import { fnCheck } from '@fulcrum/health'
 * const report = await simulate({
 *   balancer: createBalancer().health(fnCheck(probeSimulated, { intervalMs: 1_000, fall: 3, rise: 2 })),
 *   backends: [{ id: 'a' }, { id: 'b' }, { id: 'c', events: [{ at: 10_000, die: true }, { at: 40_000, recover: true }] }],
 *   load: { rps: 500 },
 *   durationMs: 60_000,
 * })
 * ```
 */
export function probeSimulated(backend: Backend, signal: AbortSignal): Promise<void> {
  const sim = synthetic.get(backend)
  if (sim === undefined)
    return Promise.reject(
      new TypeError(
        `probeSimulated(): backend ${String(backend?.id)} is not a synthetic backend of a running simulate()`,
      ),
    )
  return sim.probe(signal)
}

import { type Backend, type BalancerControl, type HealthCheck, InvalidOptionError } from '@fulcrum/core'
import type { ResolvedActiveOptions } from './options.js'
import type { Probe } from './probe.js'
import { type Engine, Target } from './target.js'

/**
 * What an active check knows about one backend, from {@link ActiveHealthCheck.status}.
 *
 * @example
 * ```ts
 * const s = check.status('127.0.0.1:9001') // { up: false, health: 0, lastResult: 'fail', lastReason: 'status 503', checks: 7, … }
 * ```
 */
export interface ActiveCheckStatus {
  /** This check's verdict (the backend may still be unhealthy through another source). */
  readonly up: boolean
  /** The rise/fall counter, in [0, rise + fall − 1]; up iff `health >= rise`. */
  readonly health: number
  /** The last check's result, or `undefined` before the first one ended. */
  readonly lastResult: 'pass' | 'fail' | undefined
  /** `'ok'`, or why the last check failed (`'status 503'`, `'timeout after 2000 ms'` …). */
  readonly lastReason: string | undefined
  /** How long the last check took, in ms. */
  readonly lastLatencyMs: number | undefined
  /** Checks ended (passed, failed or timed out) since the backend joined. */
  readonly checks: number
  /** True while a check runs. */
  readonly inFlight: boolean
  /** Clock time of the next check, or `undefined` while one runs. */
  readonly nextCheckAt: number | undefined
}

/**
 * An active health check, as returned by `tcpCheck()`, `httpCheck()` and `fnCheck()`: give it to
 * `createBalancer().health(…)`. One check object serves one balancer.
 *
 * @example
 * ```ts
 * const check = httpCheck({ path: '/healthz' })
 * const lb = createBalancer().backends(urls).health(check).build()
 * check.status(lb.backends()[0]!.id)?.up
 * ```
 */
export interface ActiveHealthCheck extends HealthCheck {
  /** The health source this check reports as (`'active:http'` …). */
  readonly source: string
  /** What the check knows about a backend, or `undefined` when it does not check it. */
  status(backendId: string): ActiveCheckStatus | undefined
  /** Cancels every scheduled check and aborts the checks in flight; `balancer.close()` calls it. */
  close(): Promise<void>
}

/**
 * @internal The engine behind every active check: follows the pool's membership, keeps one
 * {@link Target} per checked backend, and runs every check and every timeout on the balancer's
 * shared scheduler (one clock timer whatever the number of backends). The factories build it.
 *
 * @example
 * ```ts
 * const check: ActiveHealthCheck = new ActiveChecker(resolveActiveOptions('myCheck', {}, [], 'active:my'), probe)
 * ```
 */
export class ActiveChecker implements ActiveHealthCheck {
  readonly name: string
  readonly source: string
  readonly #options: ResolvedActiveOptions
  readonly #probe: Probe
  readonly #targets = new Map<string, Target>()
  readonly #unsubscribe: (() => void)[] = []
  #engine: Engine | undefined
  #closed = false

  constructor(options: ResolvedActiveOptions, probe: Probe) {
    this.#options = options
    this.#probe = probe
    this.source = options.source
    this.name = options.source
  }

  start(control: BalancerControl): void {
    if (this.#engine !== undefined || this.#closed)
      throw new InvalidOptionError(
        this.source,
        'this health check is already in use; create one per balancer',
      )
    const o = this.#options
    this.#engine = {
      control,
      scheduler: control.scheduler,
      options: o,
      probe: this.#probe,
      timeout: Object.freeze({ ok: false, reason: `timeout after ${o.timeoutMs} ms` }),
    }
    this.#unsubscribe.push(
      control.on('backend:add', (b) => this.#add(b, undefined)),
      control.on('backend:remove', (b) => this.#remove(b)),
    )
    // Staggered over one interval: backend i of n at (i + random × jitter) / n × interval.
    const list = control.backends().filter((b) => this.#wants(b))
    const n = list.length
    // One snapshot for all of them (initialState 'down' marks every backend at once).
    control.update(() => {
      for (let i = 0; i < n; i++) {
        const slot = (i + (o.jitter === 0 ? 0 : control.random.next() * o.jitter)) / n
        this.#add(list[i]!, slot)
      }
    })
  }

  status(backendId: string): ActiveCheckStatus | undefined {
    const t = this.#targets.get(backendId)
    if (t === undefined) return undefined
    return {
      up: t.counter.up,
      health: t.counter.health,
      lastResult: t.lastOk === undefined ? undefined : t.lastOk ? 'pass' : 'fail',
      lastReason: t.lastReason,
      lastLatencyMs: t.lastLatencyMs,
      checks: t.checks,
      inFlight: t.inFlight,
      nextCheckAt: t.nextCheckAt,
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const off of this.#unsubscribe.splice(0)) off()
    for (const t of this.#targets.values()) t.stop('health check closed')
    this.#targets.clear()
    await this.#probe.close?.()
  }

  #wants(b: Backend): boolean {
    const filter = this.#options.filter
    return filter === undefined || Boolean(filter(b))
  }

  /** Starts checking `b`, first at `slot` × interval, or at a random offset within one interval. */
  #add(b: Backend, slot: number | undefined): void {
    const engine = this.#engine!
    if (this.#closed || this.#targets.has(b.id) || (slot === undefined && !this.#wants(b))) return
    const t = new Target(engine, b)
    this.#targets.set(b.id, t)
    const interval = t.intervalMs
    t.begin((slot ?? engine.control.random.next()) * interval)
  }

  #remove(b: Backend): void {
    const t = this.#targets.get(b.id)
    if (t === undefined || t.backend !== b) return
    this.#targets.delete(b.id)
    t.stop('backend removed')
    this.#probe.forget?.(b)
  }
}

import type { Backend, BalancerControl, ScheduledEntry, ScheduledTask, Scheduler } from '@fulcrum/core'
import { HealthCounter } from './counter.js'
import type { ResolvedActiveOptions } from './options.js'
import type { Probe, ProbeResult } from './probe.js'
import { errorReason } from './reason.js'

/**
 * @internal What every target of one check shares.
 *
 * @example
 * ```ts
 * const engine: Engine = { control, scheduler: control.scheduler, options, probe, timeout: { ok: false, reason: 'timeout after 2000 ms' } }
 * ```
 */
export interface Engine {
  readonly control: BalancerControl
  readonly scheduler: Scheduler
  readonly options: ResolvedActiveOptions
  readonly probe: Probe
  /** `'timeout after N ms'`, built once. */
  readonly timeout: ProbeResult
}

/**
 * @internal The reason set while a backend starts down and has not been checked yet.
 *
 * @example
 * ```ts
 * backend.unhealthyReasons.get('active:http') === AWAITING_FIRST_CHECK
 * ```
 */
export const AWAITING_FIRST_CHECK = 'awaiting first check'

/**
 * @internal One checked backend: its rise/fall counter, the last result, and its single scheduler
 * entry, which is the next check while idle and the timeout while a check runs (so the target itself
 * is the {@link ScheduledTask}, and scheduling allocates no closure).
 *
 * @example
 * ```ts
 * const t = new Target(engine, backend)
 * t.begin(0) // first check at the next scheduler tick
 * t.stop('backend removed')
 * ```
 */
export class Target implements ScheduledTask {
  readonly backend: Backend
  readonly counter: HealthCounter
  checks = 0
  lastOk: boolean | undefined
  lastReason: string | undefined
  lastLatencyMs: number | undefined
  readonly #engine: Engine
  #entry: ScheduledEntry | undefined
  /** The controller of the check in flight; `undefined` while idle. */
  #controller: AbortController | undefined
  #startedAt = 0
  #stopped = false
  /** True while the verdict set is the provisional `'awaiting first check'`. */
  #provisional = false

  constructor(engine: Engine, backend: Backend) {
    this.#engine = engine
    this.backend = backend
    const o = engine.options
    this.counter = new HealthCounter(o.rise, o.fall, o.initialState)
  }

  /** Applies the initial state and schedules the first check `delayMs` from now. */
  begin(delayMs: number): void {
    const { control, options } = this.#engine
    const b = this.backend
    if (options.initialState === 'down') {
      this.#provisional = true
      control.setHealth(b, options.source, false, AWAITING_FIRST_CHECK)
    } else if (b.unhealthyReasons.has(options.source)) {
      // A re-added backend keeps its old verdicts in core; this check starts afresh.
      control.setHealth(b, options.source, true, 'added')
    }
    if (this.#stopped) return // a listener removed the backend at once
    this.#entry = this.#engine.scheduler.schedule(this, delayMs)
  }

  /** True while a check runs. */
  get inFlight(): boolean {
    return this.#controller !== undefined
  }

  /** Clock time of the next check, or `undefined` while one runs or after `stop()`. */
  get nextCheckAt(): number | undefined {
    return this.#controller === undefined && this.#entry !== undefined && !this.#entry.done
      ? this.#entry.at
      : undefined
  }

  /** The interval for the current verdict (`unhealthyIntervalMs` while down). */
  get intervalMs(): number {
    const o = this.#engine.options
    return this.counter.up ? o.intervalMs : o.unhealthyIntervalMs
  }

  /** Scheduler callback: starts a check when idle, times it out when one runs. */
  run(now: number): void {
    if (this.#stopped) return
    if (this.#controller === undefined) this.#start(now)
    else this.#timeout(now)
  }

  /** Stops checking for good: cancels the entry and aborts a check in flight. */
  stop(reason: string): void {
    this.#stopped = true
    this.#engine.scheduler.cancel(this.#entry)
    this.#entry = undefined
    const ac = this.#controller
    this.#controller = undefined
    ac?.abort(new DOMException(reason, 'AbortError'))
  }

  #start(now: number): void {
    const ac = new AbortController()
    this.#controller = ac
    this.#startedAt = now
    this.#entry = this.#engine.scheduler.schedule(this, this.#engine.options.timeoutMs)
    void this.#probe(ac)
  }

  async #probe(ac: AbortController): Promise<void> {
    let result: ProbeResult
    try {
      result = await this.#engine.probe.check(this.backend, ac.signal)
    } catch (err) {
      result = { ok: false, reason: errorReason(err) }
    }
    // Timed out, removed or closed meanwhile: that outcome was booked (or is moot) already.
    if (ac !== this.#controller) return
    this.#controller = undefined
    this.#engine.scheduler.cancel(this.#entry)
    this.#entry = undefined
    try {
      this.#finish(result, this.#engine.control.clock.now() - this.#startedAt)
    } catch (err) {
      // A throwing event listener: surface it as the shared scheduler does for its tasks.
      queueMicrotask(() => {
        throw err
      })
    }
  }

  #timeout(now: number): void {
    const ac = this.#controller!
    const timeout = this.#engine.timeout
    this.#controller = undefined
    this.#entry = undefined
    ac.abort(new DOMException(timeout.reason, 'TimeoutError'))
    this.#finish(timeout, now - this.#startedAt)
  }

  #finish(result: ProbeResult, latencyMs: number): void {
    const { control, options } = this.#engine
    const b = this.backend
    const c = this.counter
    this.checks++
    this.lastOk = result.ok
    this.lastReason = result.reason
    this.lastLatencyMs = latencyMs
    const changed = result.ok ? c.success() : result.immediate === true ? c.markDown() : c.failure()
    // Scheduled before the listeners run: one that throws cannot stop the checks, and one that
    // removes the backend or closes the check cancels this entry through stop().
    this.#entry = this.#engine.scheduler.schedule(this, jittered(this.intervalMs, options.jitter, control))
    control.emit('health:check', {
      backend: b,
      source: options.source,
      ok: result.ok,
      reason: result.reason,
      latencyMs,
    })
    if (changed) {
      this.#provisional = false
      if (c.up)
        control.setHealth(
          b,
          options.source,
          true,
          c.streak > 1 ? `${c.streak} consecutive successes` : 'check passed',
        )
      else control.setHealth(b, options.source, false, downReason(result, c.streak))
    } else if (this.#provisional) {
      // Replace 'awaiting first check' by what the first check found, once.
      this.#provisional = false
      control.setHealth(b, options.source, false, result.reason)
    }
  }
}

function downReason(result: ProbeResult, streak: number): string {
  if (result.immediate === true || streak <= 1) return result.reason
  return `${result.reason} (${streak} consecutive failures)`
}

/**
 * @internal `interval × (1 + random × jitter)`: jitter only adds.
 *
 * @example
 * ```ts
 * scheduler.schedule(target, jittered(5_000, 0.1, control)) // in [5000, 5500)
 * ```
 */
export function jittered(intervalMs: number, jitter: number, control: BalancerControl): number {
  return jitter === 0 ? intervalMs : intervalMs * (1 + control.random.next() * jitter)
}

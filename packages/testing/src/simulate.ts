import type { AttemptFn, Backend, Balancer, PickContext } from '@fulcrum/core'
import { registerSimulated } from './probe.js'
import { Recorder } from './recorder.js'
import { type ResolvedOptions, resolveOptions } from './resolve-options.js'
import { type SeededRandom, seededRandom } from './seeded-random.js'
import type { SimulateOptions } from './simulate-options.js'
import { SimulatedBackend, SimulatedFailure } from './simulated-backend.js'
import type { SimulationReport } from './simulation-report.js'
import { VirtualClock } from './virtual-clock.js'

const EMPTY_CTX: PickContext = Object.freeze({})
/** In-flight requests are awaited for at least this long after `durationMs` (virtual ms). */
const MIN_DRAIN_MS = 60_000

/** Lets other macrotasks run (I/O, the test runner's timeouts): one turn of the event loop. */
function macrotask(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve))
}

/**
 * Lets every queued promise continuation run, ~6× cheaper than a macrotask. Node runs a
 * `process.nextTick` callback queued from a microtask only once the whole microtask queue, including
 * continuations queued meanwhile, is empty. Sufficient for `execute()` and the simulated backends,
 * which only chain promises; the driver still yields a real macrotask every 1024 firings.
 */
function microtasksDrained(): Promise<void> {
  return new Promise<void>((resolve) => process.nextTick(resolve))
}

/**
 * Runs a balancer configuration against synthetic backends, with no network and no real time, and
 * returns what the clients and each backend saw. Use it to unit-test routing: "when c slows down,
 * traffic moves away", "retries hide a crash", "a drained backend gets nothing".
 *
 * Every request goes through the balancer's real `execute()`, so its strategy, retry policy,
 * budget, backoff, per-try timeouts and plugins all take part. Time is a {@link VirtualClock} and
 * every random draw comes from {@link seededRandom}(`seed`), so the same options and seed always give
 * the identical report; a minute of simulated traffic at 500 rps takes well under a second.
 *
 * Model: an attempt on a live backend takes a latency drawn from its distribution (× its `slow`
 * factor) and then succeeds, or fails with an `ECONNRESET` error with probability `errorRate`; a
 * dead backend refuses (`ECONNREFUSED`, core's `connect` kind) after 1 ms; an aborted attempt (per-try
 * timeout, deadline) rejects at once. Arrivals stop at `durationMs`; requests in flight then finish.
 * Changes at the same virtual time apply in this order: backend joins, events and leaves (in
 * declaration order), then `actions`, then arrivals.
 *
 * Health checks run too, on the same virtual clock: give `fnCheck()` of `@fulcrum/health`
 * `probeSimulated` to probe the synthetic backends. Their probes are not requests and appear in
 * no counter; the run still ends when the last request does.
 *
 * Timers and promises outside the virtual clock (real `setTimeout`, real I/O in a plugin) are not
 * simulated: such requests end up in `requests.unfinished`.
 *
 * @throws InvalidOptionError (from `@fulcrum/core`) naming the bad option, e.g. `backends[1].latency`
 * @example
 * ```ts
 * const report = await simulate({
 *   balancer: createBalancer().retry({ retries: 2, budget: false }),
 *   backends: [{ id: 'a' }, { id: 'b', latency: uniform(5, 15) }, { id: 'c', events: [{ at: 10_000, die: true }] }],
 *   load: { rps: 500 },
 *   durationMs: 60_000,
 *   seed: 42,
 * })
 * expect(report.requests.failed).toBe(0) // every attempt c refused was retried on a or b
 * expect(report.timeline.at(-1)!.perBackend.c!.successes).toBe(0)
 * ```
 */
export async function simulate<Ctx = PickContext>(options: SimulateOptions<Ctx>): Promise<SimulationReport> {
  return new SimulationRun(resolveOptions(options)).run()
}

/** One execution of {@link simulate}. */
class SimulationRun<Ctx> {
  readonly #o: ResolvedOptions<Ctx>
  readonly #clock = new VirtualClock()
  readonly #root: SeededRandom
  readonly #keys: SeededRandom
  readonly #arrivals: SeededRandom
  readonly #sims = new Map<string, SimulatedBackend>()
  readonly #recorder: Recorder
  /** Request starts scheduled on the clock (next arrival, closed-loop client pauses). */
  #scheduled = 0
  #failed = false
  #failure: unknown
  #lb: Balancer<Ctx> | undefined

  constructor(o: ResolvedOptions<Ctx>) {
    this.#o = o
    this.#root = seededRandom(o.seed)
    this.#keys = this.#root.fork('keys')
    this.#arrivals = this.#root.fork('arrivals')
    for (const b of o.backends) {
      const random = this.#root.fork(`backend:${b.id}`)
      const config = { ...b, path: `${b.path}.latency`, clock: this.#clock, random }
      this.#sims.set(b.id, new SimulatedBackend(config))
    }
    this.#recorder = new Recorder(
      o.backends.map((b) => b.id),
      o.timelineMs,
    )
  }

  async run(): Promise<SimulationReport> {
    const o = this.#o
    const clock = this.#clock
    const lb = o.builder
      .clock(clock)
      .random(this.#root.fork('balancer'))
      .backends(o.backends.filter((b) => b.joinAt === 0).map((b) => b.init))
      .build()
    this.#lb = lb
    try {
      // Ties each balancer backend to its synthetic one, for probeSimulated() (health checks). Health
      // checks started in build() and probe on clock timers only, so nothing probed before this.
      const register = (b: Backend): void => {
        const sim = this.#sims.get(b.id)
        if (sim !== undefined) registerSimulated(b, sim)
      }
      for (const b of lb.backends()) register(b)
      lb.on('backend:add', register)
      const rec = this.#recorder
      lb.on('request:end', (e) => rec.attempt(e.backend.id, e.startedAt, e.outcome, e.latencyMs))
      lb.on('request:retry', () => rec.retries++)
      lb.on('request:retry-denied', () => rec.retriesDenied++)
      this.#scheduleScenario(lb)
      this.#scheduled++
      clock.setTimer(() => {
        this.#scheduled--
        this.#startLoad()
      }, 0)
      await this.#drive()
    } finally {
      await lb.close()
    }
    if (this.#failed) throw this.#failure
    return this.#recorder.report(o.seed, o.durationMs, clock.now())
  }

  /** Aborts the simulation with `err` (the first one wins). */
  #fail(err: unknown): void {
    if (this.#failed) return
    this.#failed = true
    this.#failure = err
  }

  /** Runs `fn` at virtual time `at`; a throw aborts the simulation. */
  #at(at: number, fn: () => void): void {
    this.#clock.setTimer(() => {
      try {
        fn()
      } catch (err) {
        this.#fail(err)
      }
    }, at)
  }

  #scheduleScenario(lb: Balancer<Ctx>): void {
    for (const b of this.#o.backends) {
      const sim = this.#sims.get(b.id)!
      if (b.joinAt > 0) this.#at(b.joinAt, () => lb.add(b.init))
      for (const e of b.events) this.#at(e.at, () => sim.apply(e))
      if (Number.isFinite(b.leaveAt)) this.#at(b.leaveAt, () => lb.remove(b.id))
    }
    for (const a of this.#o.actions) this.#at(a.at, () => a.run(lb))
  }

  #startLoad(): void {
    const { rps, concurrency } = this.#o.load
    if (rps > 0) {
      this.#scheduleArrival(rps)
    } else {
      for (let i = 0; i < concurrency; i++) this.#client()
    }
  }

  /** Open loop: Poisson arrivals, i.e. exponential gaps with mean 1000 / rps ms. */
  #scheduleArrival(rps: number): void {
    const gap = (-Math.log(1 - this.#arrivals.next()) * 1000) / rps
    if (this.#clock.now() + gap >= this.#o.durationMs || this.#failed) return
    this.#scheduled++
    this.#clock.setTimer(() => {
      this.#scheduled--
      this.#start(undefined)
      this.#scheduleArrival(rps)
    }, gap)
  }

  /**
   * Closed loop: one client sends a request and, when it ends, the next one at once. A request that
   * ended without virtual time passing (e.g. `NoBackendError` on an empty pool) is followed by a
   * 1 ms pause, so that time always moves on.
   */
  #client(): void {
    this.#start((elapsed) => {
      if (this.#clock.now() >= this.#o.durationMs || this.#failed) return
      if (elapsed > 0) {
        this.#client()
        return
      }
      this.#scheduled++
      this.#clock.setTimer(() => {
        this.#scheduled--
        this.#client()
      }, 1)
    })
  }

  readonly #attempt: AttemptFn<string> = (backend, signal) => {
    const sim = this.#sims.get(backend.id)
    if (sim === undefined) return Promise.reject(new SimulatedFailure('ECONNREFUSED', backend.id))
    try {
      return sim.call(signal)
    } catch (err) {
      this.#fail(err) // a latency distribution returned a bad sample
      throw err
    }
  }

  /** Starts one request through the balancer's `execute()`. */
  #start(onEnd: ((elapsedMs: number) => void) | undefined): void {
    if (this.#failed) return
    const rec = this.#recorder
    const o = this.#o
    if (rec.started >= o.maxRequests) {
      this.#fail(
        new RangeError(
          `simulate(): more than maxRequests (${o.maxRequests}) requests; raise maxRequests or lower the load`,
        ),
      )
      return
    }
    let ctx: Ctx
    try {
      ctx = o.context === undefined ? (EMPTY_CTX as Ctx) : o.context(rec.started, this.#keys)
    } catch (err) {
      this.#fail(err)
      return
    }
    const clock = this.#clock
    const t0 = clock.now()
    rec.arrival(t0)
    const end = (failed: boolean, error: unknown): void => {
      const elapsed = clock.now() - t0
      rec.settled(t0, elapsed, failed, error)
      onEnd?.(elapsed)
    }
    this.#lb!.execute(ctx, this.#attempt).then(
      () => end(false, undefined),
      (err: unknown) => end(true, err),
    )
  }

  /** Fires timers one by one, letting promise chains run after each, until every request has ended. */
  async #drive(): Promise<void> {
    const clock = this.#clock
    const rec = this.#recorder
    const o = this.#o
    const stopAt = o.durationMs + Math.max(MIN_DRAIN_MS, o.durationMs)
    const maxFirings = 64 * o.maxRequests + 1_000_000
    let fired = 0
    await macrotask() // from here on, the loop runs in microtasks, as microtasksDrained() requires
    while (!this.#failed && (this.#scheduled > 0 || rec.pending > 0)) {
      const next = clock.nextTimerAt
      if (next === undefined || next > stopAt) break // nothing left to wait for on the virtual clock
      if (++fired > maxFirings) {
        this.#fail(
          new RangeError(`simulate(): more than ${maxFirings} timers fired; something reschedules itself`),
        )
        break
      }
      clock.advanceToNext()
      await ((fired & 1023) === 0 ? macrotask() : microtasksDrained())
    }
  }
}

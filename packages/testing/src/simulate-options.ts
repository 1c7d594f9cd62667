import type { Balancer, BalancerBuilder, PickContext } from '@fulcrum/core'
import type { LatencyInput } from './distributions.js'
import type { Seed, SeededRandom } from './seeded-random.js'

/**
 * A change to a simulated backend at virtual time `at`. Give one or more of `slow`, `errorRate`,
 * `die`, `recover`.
 *
 * @example
 * ```ts
 * const events: SimulatedBackendEvent[] = [{ at: 5_000, slow: 10 }, { at: 20_000, die: true }, { at: 40_000, recover: true, slow: 1 }]
 * ```
 */
export interface SimulatedBackendEvent {
  /** Virtual time of the change, in ms since the start. */
  readonly at: number
  /** Multiplies the backend's sampled latency by this factor from now on (1 restores it). */
  readonly slow?: number
  /** Replaces the backend's error rate, in [0, 1]. */
  readonly errorRate?: number
  /** The backend crashes: attempts in flight fail with `ECONNRESET`, new ones with `ECONNREFUSED` after 1 ms. */
  readonly die?: true
  /** A dead backend comes back. */
  readonly recover?: true
}

/**
 * One synthetic backend of `simulate()`: how fast it answers, how often it fails, and what happens
 * to it over time. Nothing listens on a port; its address is a fake `127.0.0.1:<port>`.
 *
 * @example
 * ```ts
 * const c: SimulatedBackendSpec = { id: 'c', latency: logNormal(10, 0.4), errorRate: 0.01, events: [{ at: 5_000, slow: 10 }] }
 * ```
 */
export interface SimulatedBackendSpec {
  /** The backend id (unique); reports are keyed by it. */
  readonly id: string
  /** Latency of an attempt: a number of ms (constant) or a distribution. @default 10 */
  readonly latency?: LatencyInput
  /** Share of attempts that fail with `ECONNRESET` after their sampled latency, in [0, 1]. @default 0 */
  readonly errorRate?: number
  /** Changes over time, applied in `at` order. @default [] */
  readonly events?: readonly SimulatedBackendEvent[]
  /** When the backend is `add()`ed to the balancer, in ms; 0 means it is there from the start. @default 0 */
  readonly joinAt?: number
  /** When the backend is `remove()`d from the balancer, in ms (after `joinAt`). @default never */
  readonly leaveAt?: number
  /** The backend's weight in the balancer. @default 1 */
  readonly weight?: number
  /** The backend's zone, for zone-aware strategies. @default none */
  readonly zone?: string
  /** Backend metadata, for strategies or plugins that read it. @default {} */
  readonly meta?: Readonly<Record<string, unknown>>
}

/**
 * The load `simulate()` offers: an open loop at `rps` requests per second (Poisson arrivals, which
 * keep coming whatever the latency) or a closed loop of `concurrency` clients, each sending its next
 * request as soon as the previous one ends (so throughput follows latency).
 *
 * @example
 * ```ts
 * const open: SimulatedLoad = { rps: 500 }
 * const closed: SimulatedLoad = { concurrency: 32 }
 * ```
 */
export type SimulatedLoad = { readonly rps: number } | { readonly concurrency: number }

/**
 * Something to do to the balancer at virtual time `at`, e.g. drain, disable or re-weight a backend.
 *
 * @example
 * ```ts
 * const drainB: SimulationAction = { at: 10_000, run: (lb) => lb.drain('b') }
 * ```
 */
export interface SimulationAction<Ctx = PickContext> {
  /** Virtual time, in ms since the start. */
  readonly at: number
  /** Runs synchronously on the balancer under test; a throw aborts the simulation. */
  run(balancer: Balancer<Ctx>): void
}

/**
 * Options of `simulate()`: the balancer under test, the synthetic backends, the load and its
 * duration; everything else is optional.
 *
 * @example
 * ```ts
 * const options: SimulateOptions = {
 *   balancer: createBalancer().retry({ retries: 1 }),
 *   backends: [{ id: 'a' }, { id: 'b', latency: uniform(5, 15) }],
 *   load: { rps: 200 },
 *   durationMs: 10_000,
 *   seed: 1,
 * }
 * ```
 */
export interface SimulateOptions<Ctx = PickContext> {
  /**
   * The balancer configuration under test. `simulate()` replaces its clock, random source and
   * backends (a fresh balancer is built per run), and keeps everything else: strategy, retry policy,
   * plugins, health checks. Stateful strategies should keep their state in the selector they build.
   */
  readonly balancer: BalancerBuilder<Ctx>
  /** The synthetic backends (at least one), in declaration order. */
  readonly backends: readonly SimulatedBackendSpec[]
  /** The offered load. */
  readonly load: SimulatedLoad
  /** How long requests keep arriving, in virtual ms; requests in flight at the end are awaited. */
  readonly durationMs: number
  /** Seed of every random draw (arrivals, latencies, errors, the balancer's random). @default 0 */
  readonly seed?: Seed
  /** The routing key of request `index` (its pick context is `{ key }`). @default no key */
  readonly key?: (index: number, random: SeededRandom) => string
  /** The whole pick context of request `index`, for a custom `Ctx`; exclusive with `key`. @default `{}` */
  readonly context?: (index: number, random: SeededRandom) => Ctx
  /** Width of a timeline bucket, in ms. @default 1_000 */
  readonly timelineMs?: number
  /** Operations on the balancer at given times (after backend events at the same time). @default [] */
  readonly actions?: readonly SimulationAction<Ctx>[]
  /** Safety limit on requests started; exceeding it aborts the simulation. @default 1_000_000 */
  readonly maxRequests?: number
}

import type { Backend } from './backend.js'
import type { BackendSet } from './backend-set.js'
import type { Clock } from './clock.js'
import type { Random } from './random.js'

/**
 * What a pick is about. Hashing strategies read `key` (or whatever their key extractor reads);
 * other strategies ignore it. Applications may pass any object: the type parameter `Ctx` of
 * `createBalancer<Ctx>()` flows to strategies, plugins and `pick()`.
 */
export interface PickContext {
  /** The routing key for hashing and affinity strategies (user id, session, tenant …). */
  readonly key?: string | undefined
}

/** The membership a selector is built from. Immutable: a change publishes a new snapshot. */
export interface PoolSnapshot {
  /** Increases with every published change. */
  readonly version: number
  /** Backends that may take new picks (active, healthy, weight > 0), in insertion order. */
  readonly eligible: readonly Backend[]
  /** Every backend in the pool, in insertion order (includes draining, disabled and unhealthy ones). */
  readonly all: readonly Backend[]
  /** True when too few backends are healthy and `eligible` holds unhealthy ones too (panic mode). */
  readonly panic: boolean
}

/** What a strategy may use besides the snapshot. */
export interface StrategyEnv {
  /** The balancer's random source; strategies must not call `Math.random()` themselves. */
  readonly random: Random
  /** The balancer's clock; strategies must not read the real time themselves. */
  readonly clock: Clock
}

/**
 * A load-balancing algorithm. `build()` runs off the pick path whenever membership, weights or
 * states change, and returns a {@link Selector}; tables (rings, Maglev) are built there and published
 * by swapping the selector, so a pick never sees a half-built table.
 *
 * @example
 * ```ts
 * const first: Strategy = {
 *   name: 'first',
 *   build: (snap) => ({ select: (_ctx, skip) => snap.eligible.find((b) => !skip.has(b)) }),
 * }
 * ```
 */
export interface Strategy<Ctx = PickContext> {
  /** Short name for snapshots and logs, e.g. `'p2c'`. */
  readonly name: string
  /** Builds a selector over `snapshot.eligible`. */
  build(snapshot: PoolSnapshot, env: StrategyEnv): Selector<Ctx>
}

/**
 * The pick-time half of a strategy: returns one backend that is not in `skip`, or `undefined` when
 * every eligible backend is in `skip`. Must not allocate in steady state: the balancer calls it on
 * every request.
 */
export interface Selector<Ctx = PickContext> {
  /**
   * @param ctx the pick context
   * @param skip backends tried already or vetoed during this pick; never return one of them
   * @param now the clock, read once per pick by the balancer
   */
  select(ctx: Ctx, skip: BackendSet, now: number): Backend | undefined
}

import {
  type Backend,
  type BackendSet,
  checkOptions,
  type PickContext,
  type Random,
  type Selector,
  type Strategy,
} from '@fulcrum/core'

/** Draws before a pick with skipped backends falls back to a scan. */
const MAX_DRAWS = 8

/**
 * Uniform random: every eligible backend is equally likely, whatever its weight or load (Envoy
 * `RANDOM`). Stateless, so it has no bias toward the backend after a failed one and needs no
 * coordination between many clients. Skipped (tried or vetoed) backends are never returned: a few
 * draws are rejected, then a scan picks uniformly among the rest. O(1) per pick; no allocation.
 *
 * Choose it for many clients over identical backends when you want no state at all; `p2c()` is
 * almost as cheap and also avoids busy backends.
 *
 * @param options takes no options (reserved; any key throws `InvalidOptionError`)
 * @example
 * ```ts
 * const lb = createBalancer().backends(urls).strategy(random()).build()
 * const lease = lb.pick()
 * lease.release()
 * ```
 */
export function random<Ctx = PickContext>(options: Readonly<Record<string, never>> = {}): Strategy<Ctx> {
  checkOptions('strategy', options, [])
  return {
    name: 'random',
    build(snapshot, env) {
      return new UniformSelector<Ctx>(snapshot.eligible, env.random)
    },
  }
}

/**
 * Weighted random: each eligible backend is picked with probability `weight / Σweight` (NGINX
 * `random`, Pingora `Random`). Cumulative weights are built once per rebuild and searched in
 * O(log n); skipped backends are rejected a few times, then a scan picks among the rest in
 * proportion to weight. No allocation per pick.
 *
 * Choose it for a stateless split proportional to weight (canaries, mixed instance sizes) across
 * many independent clients; prefer `weightedRoundRobin()` for an exact, deterministic split.
 *
 * @param options takes no options (reserved; any key throws `InvalidOptionError`)
 * @example
 * ```ts
 * const lb = createBalancer()
 *   .backends([{ url: 'http://10.0.0.1:80', weight: 9 }, { url: 'http://10.0.0.2:80', weight: 1 }])
 *   .strategy(weightedRandom()) // about 90 % of picks to 10.0.0.1
 *   .build()
 * ```
 */
export function weightedRandom<Ctx = PickContext>(
  options: Readonly<Record<string, never>> = {},
): Strategy<Ctx> {
  checkOptions('strategy', options, [])
  return {
    name: 'weighted-random',
    build(snapshot, env) {
      return new WeightedSelector<Ctx>(snapshot.eligible, env.random)
    },
  }
}

class UniformSelector<Ctx> implements Selector<Ctx> {
  readonly #list: readonly Backend[]
  readonly #random: Random

  constructor(list: readonly Backend[], random: Random) {
    this.#list = list
    this.#random = random
  }

  select(_ctx: Ctx, skip: BackendSet): Backend | undefined {
    const list = this.#list
    const n = list.length
    if (n === 0) return undefined
    if (skip.size === 0) return list[Math.floor(this.#random.next() * n)]
    for (let d = 0; d < MAX_DRAWS; d++) {
      const b = list[Math.floor(this.#random.next() * n)]!
      if (!skip.has(b)) return b
    }
    // Slow path: count the backends left, then take the k-th of them.
    let left = 0
    for (let i = 0; i < n; i++) if (!skip.has(list[i]!)) left++
    if (left === 0) return undefined
    let k = Math.floor(this.#random.next() * left)
    for (let i = 0; i < n; i++) {
      const b = list[i]!
      if (skip.has(b)) continue
      if (k === 0) return b
      k--
    }
    return undefined
  }
}

class WeightedSelector<Ctx> implements Selector<Ctx> {
  readonly #list: readonly Backend[]
  readonly #random: Random
  /** Weights as of the build (a weight change rebuilds the strategy). */
  readonly #weight: Float64Array
  /** `cumulative[i]` = Σ weight of backends 0..i. */
  readonly #cumulative: Float64Array

  constructor(list: readonly Backend[], random: Random) {
    this.#list = list
    this.#random = random
    const weight = new Float64Array(list.length)
    const cum = new Float64Array(list.length)
    let total = 0
    for (let i = 0; i < list.length; i++) {
      const w = list[i]!.effectiveWeight
      weight[i] = w
      total += w
      cum[i] = total
    }
    this.#weight = weight
    this.#cumulative = cum
  }

  select(_ctx: Ctx, skip: BackendSet): Backend | undefined {
    const list = this.#list
    if (list.length === 0) return undefined
    if (skip.size === 0) return list[this.#draw()]
    for (let d = 0; d < MAX_DRAWS; d++) {
      const b = list[this.#draw()]!
      if (!skip.has(b)) return b
    }
    return this.#scan(skip)
  }

  /** Index of the first backend whose cumulative weight exceeds a uniform draw in [0, Σweight). */
  #draw(): number {
    const cum = this.#cumulative
    const r = this.#random.next() * cum[cum.length - 1]!
    let lo = 0
    let hi = cum.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cum[mid]! > r) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  /** Slow path: a weighted pick among the backends not in `skip`. */
  #scan(skip: BackendSet): Backend | undefined {
    const list = this.#list
    const weight = this.#weight
    let left = 0
    for (let i = 0; i < list.length; i++) if (!skip.has(list[i]!)) left += weight[i]!
    if (left === 0) return undefined
    let r = this.#random.next() * left
    let last: Backend | undefined
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!
      if (skip.has(b)) continue
      const w = weight[i]!
      if (r < w) return b
      r -= w
      last = b
    }
    return last // only reached through rounding
  }
}

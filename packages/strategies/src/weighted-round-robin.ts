import {
  type Backend,
  type BackendSet,
  checkOptions,
  type PickContext,
  type Selector,
  type Strategy,
} from '@fulcrum/core'

/**
 * Smooth weighted round robin (NGINX's default `upstream` algorithm): every pick adds each backend's
 * weight to its running score, takes the backend with the highest score (the first declared wins
 * ties) and subtracts the sum of the weights from the winner. Every period of Σweight picks gives each
 * backend exactly `weight` picks, spread as evenly as possible: weights `{a: 5, b: 1, c: 1}` give
 * `a a b a c a a`, repeated. Weights may be fractional. Skipped (tried or vetoed) backends sit out
 * the round in which they are skipped, as in NGINX. Deterministic; O(n) per pick; no allocation.
 *
 * Scores start at zero whenever the strategy is rebuilt (a membership, weight or state change), as
 * they do on an NGINX reload. NGINX's temporary weight reduction after failures is not modelled: use
 * a health check or outlier detection to take failing backends out.
 *
 * Choose it when backends differ in capacity and you want a deterministic split proportional to
 * weight (canaries, mixed instance sizes); prefer `p2c()` when request costs vary a lot.
 *
 * @param options takes no options (reserved; any key throws `InvalidOptionError`)
 * @example
 * ```ts
 * const lb = createBalancer()
 *   .backends([{ url: 'http://10.0.0.1:80', weight: 5 }, 'http://10.0.0.2:80', 'http://10.0.0.3:80'])
 *   .strategy(weightedRoundRobin())
 *   .build()
 * // picks: 10.0.0.1, 10.0.0.1, 10.0.0.2, 10.0.0.1, 10.0.0.3, 10.0.0.1, 10.0.0.1, then again
 * ```
 * @see https://github.com/nginx/nginx/blob/master/src/http/ngx_http_upstream_round_robin.c `ngx_http_upstream_get_peer()`
 */
export function weightedRoundRobin<Ctx = PickContext>(
  options: Readonly<Record<string, never>> = {},
): Strategy<Ctx> {
  checkOptions('strategy', options, [])
  return {
    name: 'weighted-round-robin',
    build(snapshot) {
      return new SmoothWeightedSelector<Ctx>(snapshot.eligible)
    },
  }
}

class SmoothWeightedSelector<Ctx> implements Selector<Ctx> {
  readonly #list: readonly Backend[]
  /** Weights as of the build (a weight change rebuilds the strategy). */
  readonly #weight: Float64Array
  /** NGINX `current_weight` of each backend. */
  readonly #current: Float64Array

  constructor(list: readonly Backend[]) {
    this.#list = list
    this.#weight = new Float64Array(list.length)
    this.#current = new Float64Array(list.length)
    for (let i = 0; i < list.length; i++) this.#weight[i] = list[i]!.effectiveWeight
  }

  select(_ctx: Ctx, skip: BackendSet): Backend | undefined {
    const list = this.#list
    const weight = this.#weight
    const current = this.#current
    const checkSkip = skip.size > 0
    let best = -1
    let bestScore = 0
    let total = 0
    for (let i = 0; i < list.length; i++) {
      if (checkSkip && skip.has(list[i]!)) continue
      const w = weight[i]!
      const score = current[i]! + w
      current[i] = score
      total += w
      // Strict '>' so that the first declared backend wins ties.
      if (best < 0 || score > bestScore) {
        best = i
        bestScore = score
      }
    }
    if (best < 0) return undefined
    current[best] = bestScore - total
    return list[best]
  }
}

import {
  type Backend,
  type BackendSet,
  checkOptions,
  type PickContext,
  type Random,
  type Selector,
  type Strategy,
} from '@fulcrum/core'

/**
 * Least connections by full scan: picks the backend with the lowest `inflight / weight` (requests
 * picked and not yet released, per unit of weight), comparing by cross-multiplication
 * `a.inflight × b.weight < b.inflight × a.weight` as NGINX `least_conn` does. Ties are broken
 * uniformly at random by reservoir sampling (Envoy's `FULL_SCAN` least request), so idle backends
 * share traffic evenly whatever their weights. O(n) per pick (plus one random draw per tie); no
 * allocation.
 *
 * Choose it for small pools (tens of backends) whose requests vary widely in duration (long polls,
 * streaming, uploads), where the exact least-loaded backend matters; for large pools `p2c()` gets
 * almost the same balance in O(1).
 *
 * @param options takes no options (reserved; any key throws `InvalidOptionError`)
 * @example
 * ```ts
 * const lb = createBalancer().backends(urls).strategy(leastConnections()).build()
 * const lease = lb.pick() // the backend with the fewest requests in flight per unit of weight
 * lease.release()
 * ```
 */
export function leastConnections<Ctx = PickContext>(
  options: Readonly<Record<string, never>> = {},
): Strategy<Ctx> {
  checkOptions('strategy', options, [])
  return {
    name: 'least-connections',
    build(snapshot, env) {
      return new LeastConnectionsSelector<Ctx>(snapshot.eligible, env.random)
    },
  }
}

class LeastConnectionsSelector<Ctx> implements Selector<Ctx> {
  readonly #list: readonly Backend[]
  readonly #random: Random

  constructor(list: readonly Backend[], random: Random) {
    this.#list = list
    this.#random = random
  }

  select(_ctx: Ctx, skip: BackendSet): Backend | undefined {
    const list = this.#list
    const checkSkip = skip.size > 0
    let best: Backend | undefined
    let ties = 0
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!
      if (checkSkip && skip.has(b)) continue
      if (best === undefined) {
        best = b
        ties = 1
        continue
      }
      const lhs = b.inflight * best.effectiveWeight
      const rhs = best.inflight * b.effectiveWeight
      if (lhs < rhs) {
        best = b
        ties = 1
      } else if (lhs === rhs) {
        // Reservoir sampling: the k-th tied backend replaces the choice with probability 1/k.
        ties++
        if (this.#random.next() * ties < 1) best = b
      }
    }
    return best
  }
}

import {
  type Backend,
  type BackendSet,
  checkOptions,
  type PickContext,
  type Selector,
  type Strategy,
} from '@fulcrum/core'

/**
 * Plain round robin: hands out the eligible backends in turn, one each, ignoring weights and load.
 * Each rebuild (membership, weight or state change) restarts the rotation at a random backend drawn
 * from the balancer's random source, so that many clients started together do not march in lock-step
 * (Envoy). Skipped (tried or vetoed) backends are passed over and the rotation continues after the
 * backend returned. O(1) per pick without skips; no allocation.
 *
 * Choose it for identical backends serving uniform requests, or when an even, predictable spread
 * matters more than reacting to load; prefer `p2c()` or `leastConnections()` when request costs vary,
 * and `weightedRoundRobin()` when backends differ in capacity.
 *
 * @param options takes no options (reserved; any key throws `InvalidOptionError`)
 * @example
 * ```ts
 * const lb = createBalancer().backends(['http://10.0.0.1:80', 'http://10.0.0.2:80']).strategy(roundRobin()).build()
 * const lease = lb.pick() // 10.0.0.1, then 10.0.0.2, then 10.0.0.1 … (starting at a random one)
 * lease.release()
 * ```
 */
export function roundRobin<Ctx = PickContext>(options: Readonly<Record<string, never>> = {}): Strategy<Ctx> {
  checkOptions('strategy', options, [])
  return {
    name: 'round-robin',
    build(snapshot, env) {
      const n = snapshot.eligible.length
      return new RoundRobinSelector<Ctx>(snapshot.eligible, n === 0 ? 0 : Math.floor(env.random.next() * n))
    },
  }
}

class RoundRobinSelector<Ctx> implements Selector<Ctx> {
  readonly #list: readonly Backend[]
  /** Index of the next backend to hand out. */
  #next: number

  constructor(list: readonly Backend[], start: number) {
    this.#list = list
    this.#next = start < list.length ? start : 0
  }

  select(_ctx: Ctx, skip: BackendSet): Backend | undefined {
    const list = this.#list
    const n = list.length
    let i = this.#next
    if (skip.size === 0) {
      if (n === 0) return undefined
      this.#next = i + 1 === n ? 0 : i + 1
      return list[i]
    }
    for (let k = 0; k < n; k++) {
      const b = list[i]!
      i = i + 1 === n ? 0 : i + 1
      if (!skip.has(b)) {
        this.#next = i
        return b
      }
    }
    return undefined
  }
}

import type { Backend } from './backend.js'
import type { BackendSet } from './backend-set.js'
import type { Random } from './random.js'
import type { PickContext, Selector, Strategy } from './strategy.js'
import { checkKeys, checkObject, optionalNumber } from './validate.js'

/** Options of {@link p2c}. */
export interface P2cOptions {
  /**
   * How strongly in-flight requests count against a weighted backend, whose load is
   * `inflight^bias / weight` (like Envoy's `active_request_bias`); only used when weights differ.
   * 0 = plain weighted random. @default 1
   */
  readonly bias?: number
}

/**
 * Power of two choices, least request (the default strategy): sample two **distinct** eligible
 * backends at random and take the one with fewer requests in flight. With equal weights the busiest
 * backend of n ≥ 2 is never chosen. With unequal weights both samples are drawn in proportion to
 * weight and the lower `inflight^bias / weight` wins, ties keeping the first sample (NGINX
 * `random two least_conn`), so idle backends get traffic in proportion to their weights.
 * O(1) per pick with equal weights, O(log n) with unequal ones; no allocation.
 *
 * @example
 * ```ts
 * createBalancer().backends(urls).strategy(p2c()).build()
 * ```
 * @see https://www.eecs.harvard.edu/~michaelm/postscripts/tpds2001.pdf Mitzenmacher, the power of two choices
 */
export function p2c<Ctx = PickContext>(options: P2cOptions = {}): Strategy<Ctx> {
  checkObject('strategy', options)
  checkKeys('strategy', options as Record<string, unknown>, ['bias'])
  const bias = optionalNumber('strategy.bias', options.bias, 1, { min: 0, max: 16 })
  return {
    name: 'p2c',
    build(snapshot, env) {
      return new P2cSelector<Ctx>(snapshot.eligible, env.random, bias)
    },
  }
}

/** Draws per sample before the slow path takes over (skips, or one weight dominating). */
const MAX_DRAWS = 8

class P2cSelector<Ctx> implements Selector<Ctx> {
  readonly #list: readonly Backend[]
  readonly #random: Random
  readonly #bias: number
  /** Cumulative weights, or null when all weights are equal. */
  readonly #cumulative: Float64Array | null

  constructor(list: readonly Backend[], random: Random, bias: number) {
    this.#list = list
    this.#random = random
    this.#bias = bias
    const w0 = list[0]?.effectiveWeight
    if (list.some((b) => b.effectiveWeight !== w0)) {
      const cum = new Float64Array(list.length)
      let total = 0
      for (let i = 0; i < list.length; i++) cum[i] = total += list[i]!.effectiveWeight
      this.#cumulative = cum
    } else {
      this.#cumulative = null
    }
  }

  select(_ctx: Ctx, skip: BackendSet): Backend | undefined {
    const list = this.#list
    const n = list.length
    if (n === 0) return undefined
    if (skip.size === 0 && this.#cumulative === null) {
      if (n === 1) return list[0]
      const i = Math.floor(this.#random.next() * n)
      let j = Math.floor(this.#random.next() * (n - 1))
      if (j >= i) j++
      return this.#better(list[i]!, list[j]!)
    }
    const a = this.#sample(skip, undefined)
    if (a === undefined) return this.#scan(skip)
    // No distinct second sample within the draws (one weight dominates): compare the weighted
    // first sample with the best of the rest; ties keep the sample, so shares follow the weights.
    const b = this.#sample(skip, a) ?? this.#scan(skip, a)
    return b === undefined ? a : this.#better(a, b)
  }

  /** One draw (weighted if weights differ) that is neither in `skip` nor `other`, or undefined. */
  #sample(skip: BackendSet, other: Backend | undefined): Backend | undefined {
    const list = this.#list
    const cum = this.#cumulative
    for (let d = 0; d < MAX_DRAWS; d++) {
      const b =
        cum === null ? list[Math.floor(this.#random.next() * list.length)]! : list[this.#weightedIndex(cum)]!
      if (b !== other && (skip.size === 0 || !skip.has(b))) return b
    }
    return undefined
  }

  #weightedIndex(cum: Float64Array): number {
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

  /** Slow path: the best backend in neither `skip` nor `other`, by full scan. */
  #scan(skip: BackendSet, other?: Backend): Backend | undefined {
    const list = this.#list
    let best: Backend | undefined
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!
      if (b === other || skip.has(b)) continue
      best = best === undefined ? b : this.#better(best, b)
    }
    return best
  }

  /** The less loaded of two backends; ties keep `a`. */
  #better(a: Backend, b: Backend): Backend {
    if (this.#cumulative === null) return b.inflight < a.inflight ? b : a
    // inflight / weight, so that idle backends tie and the weighted first sample decides.
    if (this.#bias === 1) return b.inflight * a.effectiveWeight < a.inflight * b.effectiveWeight ? b : a
    return b.inflight ** this.#bias * a.effectiveWeight < a.inflight ** this.#bias * b.effectiveWeight ? b : a
  }
}

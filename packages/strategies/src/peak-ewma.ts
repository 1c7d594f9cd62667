import {
  type Backend,
  type BackendSet,
  checkOptions,
  optionalNumber,
  type PickContext,
  type Random,
  type Selector,
  type Strategy,
} from '@fulcrum/core'

/** Options of {@link peakEwma}. */
export interface PeakEwmaOptions {
  /**
   * The round-trip time, in ms, assumed for a backend that has no latency sample yet (a new
   * backend). Lower values send new backends traffic sooner; 0 reproduces Finagle, where a new
   * backend is free while idle and pays `penaltyMs` once it has requests in flight. @default 30 (Linkerd)
   */
  readonly defaultRttMs?: number
  /**
   * The cost, in ms, of a backend whose latency estimate is 0 but which has requests in flight:
   * cost = `penaltyMs + inflight` (Finagle's penalty). Without it a backend answering in 0 ms (or
   * with an estimate decayed to 0) would attract every request, because 0 × (inflight + 1) is 0.
   * @default 1_000_000 (Envoy `penalty_value`)
   */
  readonly penaltyMs?: number
}

/** Draws per sample before the slow path takes over. */
const MAX_DRAWS = 8

/**
 * Peak-EWMA power of two choices (Finagle, Linkerd, tower): samples two distinct eligible backends
 * at random and takes the one with the lower cost `rtt × (inflight + 1)`, the first sample winning
 * ties. `rtt` is the backend's peak-sensitive latency EWMA (`backend.latency`, fed by the balancer on
 * release and decayed with the balancer's `latencyDecayMs`, default 10 s), read at the pick's time;
 * a backend without a sample counts `defaultRttMs`. A latency spike moves traffic away at once and
 * the estimate decays back, so a slow backend is retried eventually. With equal latencies it behaves
 * like `p2c()`. Weights only decide eligibility, but a backend in slow start (`@fulcrum/health`
 * `slowStart()`, `weightFactor` < 1) costs `1 / weightFactor` times more, so it ramps up too.
 * O(1) per pick; no allocation.
 *
 * Choose it when backends' latencies differ or change (mixed hardware, noisy neighbours, cross-zone
 * or cross-region pools), and release leases with their real outcome so the estimates stay honest.
 *
 * @example
 * ```ts
 * const lb = createBalancer({ latencyDecayMs: 10_000 }).backends(urls).strategy(peakEwma({ defaultRttMs: 50 })).build()
 * const lease = lb.pick()
 * lease.release({ ok: true }) // the measured latency feeds lease.backend.latency
 * ```
 * @see https://linkerd.io/2016/03/16/beyond-round-robin-load-balancing-for-latency/
 */
export function peakEwma<Ctx = PickContext>(options: PeakEwmaOptions = {}): Strategy<Ctx> {
  checkOptions('strategy', options, ['defaultRttMs', 'penaltyMs'])
  const defaultRttMs = optionalNumber('strategy.defaultRttMs', options.defaultRttMs, 30, {
    min: 0,
    max: 3_600_000,
  })
  const penaltyMs = optionalNumber('strategy.penaltyMs', options.penaltyMs, 1_000_000, { min: 0, max: 1e12 })
  return {
    name: 'peak-ewma',
    build(snapshot, env) {
      return new PeakEwmaSelector<Ctx>(snapshot.eligible, env.random, defaultRttMs, penaltyMs)
    },
  }
}

class PeakEwmaSelector<Ctx> implements Selector<Ctx> {
  readonly #list: readonly Backend[]
  readonly #random: Random
  readonly #defaultRtt: number
  readonly #penalty: number

  constructor(list: readonly Backend[], random: Random, defaultRtt: number, penalty: number) {
    this.#list = list
    this.#random = random
    this.#defaultRtt = defaultRtt
    this.#penalty = penalty
  }

  select(_ctx: Ctx, skip: BackendSet, now: number): Backend | undefined {
    const list = this.#list
    const n = list.length
    if (n === 0) return undefined
    if (skip.size === 0) {
      if (n === 1) return list[0]
      const i = Math.floor(this.#random.next() * n)
      let j = Math.floor(this.#random.next() * (n - 1))
      if (j >= i) j++
      return this.#better(list[i]!, list[j]!, now)
    }
    const a = this.#sample(skip, undefined)
    if (a === undefined) return this.#scan(skip, now)
    const b = this.#sample(skip, a)
    if (b === undefined) return this.#scan(skip, now)
    return this.#better(a, b, now)
  }

  /** One uniform draw that is neither in `skip` nor `other`, or undefined after a few misses. */
  #sample(skip: BackendSet, other: Backend | undefined): Backend | undefined {
    const list = this.#list
    for (let d = 0; d < MAX_DRAWS; d++) {
      const b = list[Math.floor(this.#random.next() * list.length)]!
      if (b !== other && !skip.has(b)) return b
    }
    return undefined
  }

  /** Slow path: the cheapest backend not in `skip`, by full scan (ties keep the earlier one). */
  #scan(skip: BackendSet, now: number): Backend | undefined {
    const list = this.#list
    let best: Backend | undefined
    let bestCost = 0
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!
      if (skip.has(b)) continue
      const c = this.#cost(b, now)
      if (best === undefined || c < bestCost) {
        best = b
        bestCost = c
      }
    }
    return best
  }

  /** The cheaper of two backends; ties keep `a`. */
  #better(a: Backend, b: Backend, now: number): Backend {
    return this.#cost(b, now) < this.#cost(a, now) ? b : a
  }

  /**
   * `rtt × (inflight + 1)`, or the penalty for a backend with a zero estimate and work in flight;
   * divided by the slow-start factor.
   */
  #cost(b: Backend, now: number): number {
    const latency = b.latency
    const rtt = latency.hasSample ? latency.value(now) : this.#defaultRtt
    if (rtt === 0 && b.inflight > 0) return (this.#penalty + b.inflight) / b.weightFactor
    return (rtt * (b.inflight + 1)) / b.weightFactor
  }
}

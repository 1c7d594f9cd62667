/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup & Zadimoghaddam, SODA 2018; HAProxy
 * `hash-balance-factor`, Envoy `hash_balance_factor`), on the ring of `ringHash()`.
 */
import type { Backend, BackendSet, PickContext, Random, Selector, Strategy } from '@fulcrum/core'
import { murmur3 } from './hash.js'
import type { KeyExtractor } from './keys.js'
import { checkOptions, optionalNumber } from './options.js'
import { buildRing, type Ring, resolveRingOptions, ringIndex } from './ring-hash.js'

/** Relative slack that absorbs float rounding in `factor × (total + 1) × w / Σw` before `ceil`. */
const ROUNDING = 1 - 2 ** -40

/**
 * Options of {@link boundedLoad}.
 *
 * @example
 * ```ts
 * const options: BoundedLoadOptions = { factor: 1.5 }
 * ```
 */
export interface BoundedLoadOptions<Ctx = PickContext> {
  /** Where the routing key comes from. @default keyFromContext() (`ctx.key`) */
  readonly key?: KeyExtractor<Ctx>
  /**
   * The balance factor c ≥ 1: no backend takes more than `ceil(c × (total + 1) × w / Σw)` requests
   * in flight, where `total` is the in-flight count of all eligible backends. Lower is more even, higher
   * keeps more keys on their own backend (HAProxy suggests 1.25–2; 1 is perfectly even, hardly
   * consistent). At most 100. @default 1.25
   */
  readonly factor?: number
  /** Ring points of the lightest backend, as in `ringHash()`. @default 160 */
  readonly pointsPerWeight?: number
  /** The strategy for picks without a key. @default a random point of the ring, load-bounded too */
  readonly fallback?: Strategy<Ctx>
}

/**
 * Consistent hashing with bounded loads: a key goes to its backend on the ring unless that backend
 * already holds its share of the load in flight (`ceil(factor × (total + 1) × w / Σw)`), in which case
 * it walks clockwise to the first backend below its share. At low load it behaves like `ringHash()`;
 * under a hot key the excess spreads to the following backends instead of overloading one, and no
 * backend ever exceeds its cap (except on a retry whose `tried` set leaves only full backends, where
 * the least loaded untried backend is returned rather than nothing).
 *
 * Choose it for cache-affine routing where some keys are much hotter than others (HAProxy, Vimeo's
 * video cache); in-flight counts need `lease.release()` to be called reliably.
 *
 * @example
 * ```ts
 * const lb = createBalancer().backends(urls).strategy(boundedLoad({ factor: 1.25 })).build()
 * const lease = lb.pick({ key: videoId })
 * ```
 */
export function boundedLoad<Ctx = PickContext>(options?: BoundedLoadOptions<Ctx>): Strategy<Ctx> {
  const o = checkOptions('strategy', options, ['key', 'factor', 'pointsPerWeight', 'fallback'])
  const { key, pointsPerWeight, fallback } = resolveRingOptions<Ctx>(o)
  const factor = optionalNumber('strategy.factor', o.factor, 1.25, { min: 1, max: 100 })
  return {
    name: 'bounded-load',
    build(snapshot, env) {
      const ring = buildRing(snapshot.eligible, pointsPerWeight)
      return new BoundedLoadSelector<Ctx>(ring, factor, key, fallback?.build(snapshot, env), env.random)
    },
  }
}

class BoundedLoadSelector<Ctx> implements Selector<Ctx> {
  readonly #ring: Ring
  readonly #factor: number
  readonly #weights: Float64Array
  readonly #totalWeight: number
  readonly #key: KeyExtractor<Ctx>
  readonly #fallback: Selector<Ctx> | undefined
  readonly #random: Random
  /** `seen[m] === epoch`: member m was examined during the current pick. */
  readonly #seen: Int32Array
  #epoch = 0

  constructor(
    ring: Ring,
    factor: number,
    key: KeyExtractor<Ctx>,
    fallback: Selector<Ctx> | undefined,
    random: Random,
  ) {
    const n = ring.members.length
    this.#ring = ring
    this.#factor = factor
    this.#weights = new Float64Array(n)
    let total = 0
    for (let i = 0; i < n; i++) total += this.#weights[i] = ring.members[i]!.weight
    this.#totalWeight = total
    this.#key = key
    this.#fallback = fallback
    this.#random = random
    this.#seen = new Int32Array(n)
  }

  select(ctx: Ctx, skip: BackendSet, now: number): Backend | undefined {
    const ring = this.#ring
    const hashes = ring.hashes
    const total = hashes.length
    if (total === 0) return undefined
    const key = this.#key(ctx)
    let p: number
    if (typeof key === 'string' && key.length > 0) p = ringIndex(hashes, murmur3(key))
    else if (this.#fallback !== undefined) return this.#fallback.select(ctx, skip, now)
    else p = Math.floor(this.#random.next() * total)

    const members = ring.members
    const n = members.length
    const weights = this.#weights
    let inflight = 0
    for (let i = 0; i < n; i++) inflight += members[i]!.inflight
    // capacity(m) = ceil(factor × (inflight + 1) × w_m / Σw); Σ capacity > inflight, so without skips
    // some member is always below its capacity.
    const perWeight = (this.#factor * (inflight + 1)) / this.#totalWeight
    const seen = this.#seen
    const epoch = this.#nextEpoch()
    const owners = ring.owners
    const checkSkip = skip.size > 0
    let examined = 0
    let fallback: Backend | undefined
    let fallbackLoad = Number.POSITIVE_INFINITY
    for (let step = 0; step < total && examined < n; step++, p = p + 1 === total ? 0 : p + 1) {
      const m = owners[p]!
      if (seen[m] === epoch) continue
      seen[m] = epoch
      examined++
      const b = members[m]!
      if (checkSkip && skip.has(b)) continue
      const capacity = Math.max(1, Math.ceil(perWeight * weights[m]! * ROUNDING))
      if (b.inflight < capacity) return b
      const load = (b.inflight + 1) / capacity
      if (load < fallbackLoad) {
        fallbackLoad = load
        fallback = b
      }
    }
    return fallback
  }

  #nextEpoch(): number {
    if (this.#epoch === 0x7fffffff) {
      this.#epoch = 0
      this.#seen.fill(0)
    }
    return ++this.#epoch
  }
}

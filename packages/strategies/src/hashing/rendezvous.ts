/**
 * Rendezvous, or highest-random-weight, hashing (Thaler & Ravishankar 1996), in its weighted form
 * (`score = w / −ln u`, Schindelhauer & Schomaker; Traefik `hrw`).
 */
import type { Backend, BackendSet, PickContext, Random, Selector, Strategy } from '@fulcrum/core'
import { combine32, murmur3, unitInterval } from './hash.js'
import { type KeyExtractor, keyFromContext } from './keys.js'
import { checkOptions, optionalFunction, optionalStrategy } from './options.js'

/** Seed of the per-backend hash, so that it is independent of the key hash. */
const BACKEND_SEED = 0x68727721

/**
 * Options of {@link rendezvous}.
 *
 * @example
 * ```ts
 * const options: RendezvousOptions<HttpKeyContext> = { key: keyFromHeader('x-tenant'), fallback: p2c() }
 * ```
 */
export interface RendezvousOptions<Ctx = PickContext> {
  /** Where the routing key comes from. @default keyFromContext() (`ctx.key`) */
  readonly key?: KeyExtractor<Ctx>
  /** The strategy for picks without a key. @default weighted random (a random hash) */
  readonly fallback?: Strategy<Ctx>
}

/**
 * Rendezvous hashing: every backend scores the key, the highest score wins. The same key goes to the
 * same backend; when a backend leaves, only its own keys move (each to its second-best backend), and
 * a backend that joins takes only the keys it now wins, about 1/(N+1). Weighted: a backend's share of
 * keys is proportional to its weight. A retry takes the best backend not tried yet, so the order of
 * fallbacks is fixed per key. O(N) per pick, no table.
 *
 * Choose it for small and medium pools (up to a few hundred backends) that need minimal disruption
 * and exact weights; prefer `maglev()` for large pools or the hottest paths.
 *
 * @example
 * ```ts
 * const lb = createBalancer().backends(urls).strategy(rendezvous({ key: keyFromCookie('sid') })).build()
 * ```
 */
export function rendezvous<Ctx = PickContext>(options?: RendezvousOptions<Ctx>): Strategy<Ctx> {
  const o = checkOptions('strategy', options, ['key', 'fallback'])
  const key = optionalFunction<KeyExtractor<Ctx>>('strategy.key', o.key, keyFromContext<Ctx>())
  const fallback = optionalStrategy<Ctx>('strategy.fallback', o.fallback)
  return {
    name: 'rendezvous',
    build(snapshot, env) {
      return new RendezvousSelector<Ctx>(snapshot.eligible, key, fallback?.build(snapshot, env), env.random)
    },
  }
}

class RendezvousSelector<Ctx> implements Selector<Ctx> {
  /** Sorted by id, so that ties are broken the same way whatever the insertion order. */
  readonly #members: readonly Backend[]
  readonly #hashes: Uint32Array
  readonly #weights: Float64Array
  readonly #equalWeights: boolean
  readonly #key: KeyExtractor<Ctx>
  readonly #fallback: Selector<Ctx> | undefined
  readonly #random: Random

  constructor(
    eligible: readonly Backend[],
    key: KeyExtractor<Ctx>,
    fallback: Selector<Ctx> | undefined,
    random: Random,
  ) {
    const members = [...eligible].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    const n = members.length
    this.#members = members
    this.#hashes = new Uint32Array(n)
    this.#weights = new Float64Array(n)
    let equal = true
    for (let i = 0; i < n; i++) {
      this.#hashes[i] = murmur3(members[i]!.id, BACKEND_SEED)
      this.#weights[i] = members[i]!.weight
      if (members[i]!.weight !== members[0]!.weight) equal = false
    }
    this.#equalWeights = equal
    this.#key = key
    this.#fallback = fallback
    this.#random = random
  }

  select(ctx: Ctx, skip: BackendSet, now: number): Backend | undefined {
    const members = this.#members
    const n = members.length
    if (n === 0) return undefined
    const key = this.#key(ctx)
    let h: number
    if (typeof key === 'string' && key.length > 0) h = murmur3(key)
    else if (this.#fallback !== undefined) return this.#fallback.select(ctx, skip, now)
    else h = Math.floor(this.#random.next() * 4294967296)
    const hashes = this.#hashes
    const checkSkip = skip.size > 0
    let best = -1
    if (this.#equalWeights) {
      // With equal weights the score is monotonic in the hash: compare hashes, skip the logarithm.
      let bestHash = -1
      for (let i = 0; i < n; i++) {
        if (checkSkip && skip.has(members[i]!)) continue
        const s = combine32(h, hashes[i]!)
        if (s > bestHash) {
          bestHash = s
          best = i
        }
      }
    } else {
      const weights = this.#weights
      let bestScore = -1
      for (let i = 0; i < n; i++) {
        if (checkSkip && skip.has(members[i]!)) continue
        const s = weights[i]! / -Math.log(unitInterval(combine32(h, hashes[i]!)))
        if (s > bestScore) {
          bestScore = s
          best = i
        }
      }
    }
    return best === -1 ? undefined : members[best]
  }
}

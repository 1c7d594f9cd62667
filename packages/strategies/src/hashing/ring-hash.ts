/**
 * Ketama-style consistent hashing on a ring (NGINX `hash … consistent`, Envoy `RING_HASH`), and the
 * ring itself, which `boundedLoad()` reuses.
 */
import type { Backend, BackendSet, PickContext, Random, Selector, Strategy } from '@fulcrum/core'
import { murmur3 } from './hash.js'
import { type KeyExtractor, keyFromContext } from './keys.js'
import { checkOptions, optionalFunction, optionalNumber, optionalStrategy } from './options.js'

/**
 * Options of {@link ringHash}.
 *
 * @example
 * ```ts
 * const options: RingHashOptions = { pointsPerWeight: 200, fallback: p2c() }
 * ```
 */
export interface RingHashOptions<Ctx = PickContext> {
  /** Where the routing key comes from. @default keyFromContext() (`ctx.key`) */
  readonly key?: KeyExtractor<Ctx>
  /**
   * Ring points per unit of weight; a backend of weight w gets `round(pointsPerWeight × w / unit)`,
   * where unit is 1, or the smallest weight when some weight is below 1 (so every backend gets at
   * least `pointsPerWeight`). With weights ≥ 1 the unit never changes, so removing a backend moves
   * only its own keys. More points balance better (160 per host: the most
   * loaded host carries ≈ 1.13× the mean at 10 hosts, 1.25× at 100) and cost memory (8 bytes a point).
   * An integer from 1 to 65 536. @default 160
   */
  readonly pointsPerWeight?: number
  /** The strategy for picks without a key. @default a random point of the ring (weighted random) */
  readonly fallback?: Strategy<Ctx>
}

/**
 * Consistent hashing on a hash ring: the same key goes to the same backend, and a membership change
 * moves only about 1/N of the keys, and only those of the backend that left (or to the one that
 * joined). On a retry (the chosen backend in `tried`), the next distinct backend clockwise on the ring
 * is picked, the same one every time for that key.
 *
 * Choose it for cache locality and session affinity when backends come and go; prefer `maglev()`
 * for faster picks and better balance (at twice the disruption), `rendezvous()` for small pools and
 * `boundedLoad()` when a hot key must not overload its backend.
 *
 * @example
 * ```ts
 * const lb = createBalancer().backends(urls).strategy(ringHash({ fallback: p2c() })).build()
 * lb.pick({ key: 'user-42' }) // always the same backend while it is eligible
 * ```
 */
export function ringHash<Ctx = PickContext>(options?: RingHashOptions<Ctx>): Strategy<Ctx> {
  const { key, pointsPerWeight, fallback } = resolveRingOptions<Ctx>(
    checkOptions('strategy', options, ['key', 'pointsPerWeight', 'fallback']),
  )
  return {
    name: 'ring-hash',
    build(snapshot, env) {
      const ring = buildRing(snapshot.eligible, pointsPerWeight)
      return new RingHashSelector<Ctx>(ring, key, fallback?.build(snapshot, env), env.random)
    },
  }
}

/** @internal The options every ring strategy shares (`key`, `pointsPerWeight`, `fallback`), validated. */
export function resolveRingOptions<Ctx>(o: Readonly<Record<string, unknown>>): {
  key: KeyExtractor<Ctx>
  pointsPerWeight: number
  fallback: Strategy<Ctx> | undefined
} {
  return {
    key: optionalFunction<KeyExtractor<Ctx>>('strategy.key', o.key, keyFromContext<Ctx>()),
    pointsPerWeight: optionalNumber(
      'strategy.pointsPerWeight',
      o.pointsPerWeight,
      DEFAULT_POINTS_PER_WEIGHT,
      {
        min: 1,
        max: 65_536,
        integer: true,
      },
    ),
    fallback: optionalStrategy<Ctx>('strategy.fallback', o.fallback),
  }
}

class RingHashSelector<Ctx> implements Selector<Ctx> {
  readonly #ring: Ring
  readonly #key: KeyExtractor<Ctx>
  readonly #fallback: Selector<Ctx> | undefined
  readonly #random: Random

  constructor(ring: Ring, key: KeyExtractor<Ctx>, fallback: Selector<Ctx> | undefined, random: Random) {
    this.#ring = ring
    this.#key = key
    this.#fallback = fallback
    this.#random = random
  }

  select(ctx: Ctx, skip: BackendSet, now: number): Backend | undefined {
    const hashes = this.#ring.hashes
    if (hashes.length === 0) return undefined
    const key = this.#key(ctx)
    let start: number
    if (typeof key === 'string' && key.length > 0) start = ringIndex(hashes, murmur3(key))
    else if (this.#fallback !== undefined) return this.#fallback.select(ctx, skip, now)
    else start = Math.floor(this.#random.next() * hashes.length)
    return walkRing(this.#ring, start, skip)
  }
}

// ---------------------------------------------------------------------------------------------------
// The ring. @internal: shared with bounded-load.ts, not exported from the package.

/** @internal Points on a ring at most (16 MiB of hashes plus 16 MiB of owners); larger rings are scaled down. */
export const MAX_RING_POINTS = 1 << 22

/** @internal The default number of points of a backend with the smallest weight. */
export const DEFAULT_POINTS_PER_WEIGHT = 160

/** @internal An immutable hash ring. */
export interface Ring {
  /** The backends on the ring, sorted by id; `owners` indexes into it. */
  readonly members: readonly Backend[]
  /** Member index of each backend (for skip bookkeeping). */
  readonly indexOf: ReadonlyMap<Backend, number>
  /** Point hashes, ascending. */
  readonly hashes: Uint32Array
  /** `owners[i]` is the member index of the point `hashes[i]`. */
  readonly owners: Int32Array
  /** Points per member (for metrics and tests). */
  readonly counts: Int32Array
}

/**
 * @internal Builds a ring over `backends` (weights > 0). A backend gets `round(pointsPerWeight × w / unit)`
 * points (unit = min(1, smallest weight)), at least 1; point `i` of backend `b` hashes `${b.id}-${i}`. When the total exceeds
 * {@link MAX_RING_POINTS}, all counts are scaled down in proportion. Points with equal hashes are
 * ordered by backend id, so the ring depends only on the set of (id, weight), never on insertion order.
 */
export function buildRing(backends: readonly Backend[], pointsPerWeight: number): Ring {
  const members = [...backends].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const n = members.length
  const indexOf = new Map<Backend, number>()
  const counts = new Int32Array(n)
  let minWeight = Number.POSITIVE_INFINITY
  for (let i = 0; i < n; i++) {
    const w = members[i]!.weight
    if (w > 0 && w < minWeight) minWeight = w
    indexOf.set(members[i]!, i)
  }
  // A fixed unit of 1 keeps every backend's point count independent of the others' weights.
  minWeight = Math.min(1, minWeight)
  // Ideal counts as floats first: clamping before scaling would distort extreme weight ratios.
  const ideal = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) {
    const w = members[i]!.weight
    const c = w > 0 ? Math.max(1, Math.round((pointsPerWeight * w) / minWeight)) : 1
    sum += ideal[i] = Number.isFinite(c) ? c : Number.MAX_SAFE_INTEGER
  }
  const scale = sum > MAX_RING_POINTS ? MAX_RING_POINTS / sum : 1
  let total = 0
  for (let i = 0; i < n; i++) total += counts[i] = Math.max(1, Math.floor(ideal[i]! * scale))
  const hashes = new Uint32Array(total)
  const owners = new Int32Array(total)
  let p = 0
  for (let m = 0; m < n; m++) {
    const id = members[m]!.id
    for (let i = 0; i < counts[m]!; i++, p++) {
      hashes[p] = murmur3(`${id}-${i}`)
      owners[p] = m
    }
  }
  sortPoints(hashes, owners, n)
  return { members, indexOf, hashes, owners, counts }
}

/** Member counts up to which {@link sortPoints} packs points into float64s. */
const PACKED_MAX_MEMBERS = 2 ** 21

/**
 * @internal Sorts points in place by (hash, owner); owners are member indexes in id order, so ties are
 * broken the same way in every membership. With up to 2^21 members a point is packed as
 * `hash × 2^k + owner` into a float64 (exact while 32 + k ≤ 53) and the native numeric sort of a
 * Float64Array does the work; beyond that (or when `comparator` is set) an index sort with a
 * comparator does.
 */
export function sortPoints(
  hashes: Uint32Array,
  owners: Int32Array,
  members: number,
  comparator = false,
): void {
  const total = hashes.length
  if (!comparator && members <= PACKED_MAX_MEMBERS) {
    let radix = 1
    while (radix < members) radix *= 2
    const packed = new Float64Array(total)
    for (let i = 0; i < total; i++) packed[i] = hashes[i]! * radix + owners[i]!
    packed.sort()
    for (let i = 0; i < total; i++) {
      const v = packed[i]!
      const m = v % radix
      owners[i] = m
      hashes[i] = (v - m) / radix
    }
    return
  }
  const order = new Uint32Array(total)
  for (let i = 0; i < total; i++) order[i] = i
  order.sort((a, b) => hashes[a]! - hashes[b]! || owners[a]! - owners[b]!)
  const h = hashes.slice()
  const o = owners.slice()
  for (let i = 0; i < total; i++) {
    hashes[i] = h[order[i]!]!
    owners[i] = o[order[i]!]!
  }
}

/** @internal The index of the first point with hash ≥ `h`, wrapping to 0 past the last point. Ring must be non-empty. */
export function ringIndex(hashes: Uint32Array, h: number): number {
  let lo = 0
  let hi = hashes.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (hashes[mid]! < h) lo = mid + 1
    else hi = mid
  }
  return lo === hashes.length ? 0 : lo
}

/** @internal True when every member of the ring is in `skip` (O(|skip|), no allocation). */
export function allMembersSkipped(ring: Ring, skip: BackendSet): boolean {
  if (skip.size < ring.members.length) return false
  const list = skip.values()
  let found = 0
  for (let i = 0; i < list.length; i++) if (ring.indexOf.has(list[i]!)) found++
  return found >= ring.members.length
}

/**
 * @internal Walks the ring from point `start` to the first point whose owner is not in `skip`; returns that
 * owner, or `undefined` when every member is skipped. The walk is deterministic for a given start,
 * so a retry of the same key always gets the same next distinct backend.
 */
export function walkRing(ring: Ring, start: number, skip: BackendSet): Backend | undefined {
  const members = ring.members
  const first = members[ring.owners[start]!]!
  if (skip.size === 0 || !skip.has(first)) return first
  if (allMembersSkipped(ring, skip)) return undefined
  const owners = ring.owners
  const total = owners.length
  let p = start
  for (let step = 1; step < total; step++) {
    if (++p === total) p = 0
    const b = members[owners[p]!]!
    if (!skip.has(b)) return b
  }
  return undefined
}

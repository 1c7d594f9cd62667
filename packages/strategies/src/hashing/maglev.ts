/**
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016; Envoy `maglev_lb.cc`): a lookup table of a
 * prime size filled from per-backend permutations, giving O(1) picks and near-perfect balance.
 */
import {
  type Backend,
  type BackendSet,
  InvalidOptionError,
  type PickContext,
  type Random,
  type Selector,
  type Strategy,
} from '@fulcrum/core'
import { fmix32, murmur3 } from './hash.js'
import { type KeyExtractor, keyFromContext } from './keys.js'
import { checkOptions, isPrime, optionalFunction, optionalNumber, optionalStrategy } from './options.js'

/** The largest table size accepted (Envoy's limit). */
const MAX_TABLE_SIZE = 5_000_011
/** Seeds of the two backend hashes: `offset` and `skip` of the permutation. */
const OFFSET_SEED = 0x6d61676c
const SKIP_SEED = 0x65762121
/** Re-hashes of the key tried when the table entry is a skipped backend, before a linear probe. */
const REHASHES = 8

/**
 * Options of {@link maglev}.
 *
 * @example
 * ```ts
 * const options: MaglevOptions = { tableSize: 131_071 } // a prime ≥ 100 × backends
 * ```
 */
export interface MaglevOptions<Ctx = PickContext> {
  /** Where the routing key comes from. @default keyFromContext() (`ctx.key`) */
  readonly key?: KeyExtractor<Ctx>
  /**
   * Entries of the lookup table; must be a prime, at most 5 000 011. Balance is within about
   * `N / tableSize` of perfect, so keep it ≥ 100 × the number of backends. @default 65537
   */
  readonly tableSize?: number
  /** The strategy for picks without a key. @default a random table entry (weighted random) */
  readonly fallback?: Strategy<Ctx>
}

/**
 * Maglev hashing: the same key goes to the same backend, picks cost one table read whatever the pool
 * size, and keys spread over backends within a few percent of their weights. Removing one of N
 * backends moves slightly more than 1/N of the keys (at most about 2/N), some of them between
 * surviving backends. On a retry the key is re-hashed, deterministically, to another backend.
 *
 * Choose it for large pools and hot paths that need consistent hashing with the best balance;
 * prefer `ringHash()` or `rendezvous()` when minimal disruption matters more than balance.
 *
 * @example
 * ```ts
 * const lb = createBalancer().backends(urls).strategy(maglev({ key: keyFromHeader('x-user') })).build()
 * ```
 */
export function maglev<Ctx = PickContext>(options?: MaglevOptions<Ctx>): Strategy<Ctx> {
  const o = checkOptions('strategy', options, ['key', 'tableSize', 'fallback'])
  const key = optionalFunction<KeyExtractor<Ctx>>('strategy.key', o.key, keyFromContext<Ctx>())
  const tableSize = optionalNumber('strategy.tableSize', o.tableSize, 65_537, {
    min: 2,
    max: MAX_TABLE_SIZE,
    integer: true,
  })
  if (!isPrime(tableSize))
    throw new InvalidOptionError('strategy.tableSize', `expected a prime, got ${tableSize}`)
  const fallback = optionalStrategy<Ctx>('strategy.fallback', o.fallback)
  return {
    name: 'maglev',
    build(snapshot, env) {
      const members = [...snapshot.eligible].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      const table = members.length === 0 ? new Int32Array(0) : fillTable(members, tableSize)
      return new MaglevSelector<Ctx>(members, table, key, fallback?.build(snapshot, env), env.random)
    },
  }
}

/**
 * @internal Fills a Maglev table of `size` entries with indexes into `members` (sorted by id, weights
 * > 0). Member i walks its permutation `(offset + skip × j) mod size` and claims its next free entry
 * whenever its turn comes; with unequal weights a member takes a turn in iteration t when
 * `t × w / maxW ≥ target`, then raises its target by 1 (Envoy), so entries are proportional to weight.
 */
export function fillTable(members: readonly Backend[], size: number): Int32Array {
  const n = members.length
  const table = new Int32Array(size).fill(-1)
  const next = new Float64Array(n) // current permutation position of each member
  const step = new Float64Array(n)
  const norm = new Float64Array(n)
  const target = new Float64Array(n)
  let maxWeight = 0
  for (let i = 0; i < n; i++) maxWeight = Math.max(maxWeight, members[i]!.weight)
  for (let i = 0; i < n; i++) {
    const id = members[i]!.id
    next[i] = murmur3(id, OFFSET_SEED) % size
    step[i] = (murmur3(id, SKIP_SEED) % (size - 1)) + 1
    norm[i] = members[i]!.weight / maxWeight
  }
  let filled = 0
  for (let iteration = 1; filled < size; iteration++) {
    for (let i = 0; i < n && filled < size; i++) {
      if (iteration * norm[i]! < target[i]!) continue
      target[i]! += 1
      let c = next[i]!
      while (table[c]! !== -1) {
        c += step[i]!
        if (c >= size) c -= size
      }
      table[c] = i
      c += step[i]!
      next[i] = c >= size ? c - size : c
      filled++
    }
  }
  return table
}

class MaglevSelector<Ctx> implements Selector<Ctx> {
  readonly #members: readonly Backend[]
  readonly #indexOf: ReadonlyMap<Backend, number>
  readonly #table: Int32Array
  readonly #key: KeyExtractor<Ctx>
  readonly #fallback: Selector<Ctx> | undefined
  readonly #random: Random

  constructor(
    members: readonly Backend[],
    table: Int32Array,
    key: KeyExtractor<Ctx>,
    fallback: Selector<Ctx> | undefined,
    random: Random,
  ) {
    this.#members = members
    this.#indexOf = new Map(members.map((b, i) => [b, i]))
    this.#table = table
    this.#key = key
    this.#fallback = fallback
    this.#random = random
  }

  select(ctx: Ctx, skip: BackendSet, now: number): Backend | undefined {
    const table = this.#table
    const size = table.length
    if (size === 0) return undefined
    const key = this.#key(ctx)
    let h: number
    if (typeof key === 'string' && key.length > 0) h = murmur3(key)
    else if (this.#fallback !== undefined) return this.#fallback.select(ctx, skip, now)
    else h = Math.floor(this.#random.next() * 4294967296)
    const members = this.#members
    const first = members[table[h % size]!]!
    if (skip.size === 0 || !skip.has(first)) return first
    if (this.#allSkipped(skip)) return undefined
    // Re-hash with the attempt number: deterministic for the key, and spread like the first pick.
    for (let attempt = 1; attempt <= REHASHES; attempt++) {
      const b = members[table[fmix32(h ^ Math.imul(attempt, 0x9e3779b9)) % size]!]!
      if (!skip.has(b)) return b
    }
    // Many members skipped: probe the table linearly from the key's entry.
    let c = h % size
    for (let i = 1; i < size; i++) {
      if (++c === size) c = 0
      const b = members[table[c]!]!
      if (!skip.has(b)) return b
    }
    // Only members without table entries (a tiny weight, or more members than entries) are left.
    for (let i = 0; i < members.length; i++) if (!skip.has(members[i]!)) return members[i]
    return undefined
  }

  #allSkipped(skip: BackendSet): boolean {
    if (skip.size < this.#members.length) return false
    const list = skip.values()
    let found = 0
    for (let i = 0; i < list.length; i++) if (this.#indexOf.has(list[i]!)) found++
    return found >= this.#members.length
  }
}

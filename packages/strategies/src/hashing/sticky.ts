/**
 * Learned session affinity (NGINX `sticky learn`, HAProxy stick tables): remember which backend a
 * key went to, and send the key there again while that backend can take it.
 */
import type { Backend, BackendSet, Clock, PickContext, PoolSnapshot, Selector, Strategy } from '@fulcrum/core'
import { LRUCache } from 'lru-cache'
import { type KeyExtractor, keyFromContext } from './keys.js'
import { checkOptions, checkStrategy, optionalFunction, optionalNumber } from './options.js'

/**
 * Options of {@link sticky}.
 *
 * @example
 * ```ts
 * const options: StickyOptions<HttpKeyContext> = { key: keyFromCookie('sid'), ttlMs: 10 * 60_000, max: 50_000 }
 * ```
 */
export interface StickyOptions<Ctx = PickContext> {
  /** Where the affinity key (session id, user id …) comes from. @default keyFromContext() (`ctx.key`) */
  readonly key?: KeyExtractor<Ctx>
  /**
   * How long an affinity lives without being used, in ms: every pick of the key restarts it (NGINX
   * `sticky learn timeout`). Read from the balancer's clock. @default 1_800_000 (30 minutes)
   */
  readonly ttlMs?: number
  /** The most keys remembered; the least recently used affinity is dropped beyond it. @default 100_000 */
  readonly max?: number
}

/**
 * Makes any strategy sticky: the first pick of a key goes to `inner`'s choice, later picks of the key
 * go to the same backend as long as it is in the pool, healthy and not disabled, even when it is
 * draining or has weight 0 (those take no new keys, but keep the ones they have). When the remembered
 * backend is unavailable, or was tried already by this request, `inner` chooses again and the new
 * choice is remembered. Picks without a key go to `inner`. The table is owned by the strategy object
 * and survives membership changes: use one `sticky()` per balancer.
 *
 * Choose it for stateful backends (sessions in memory, websockets, long polls) where a client must
 * keep its backend while the pool changes, but new clients should follow a load-aware strategy;
 * prefer a hashing strategy when a pure function of the key is enough (no table, agrees across
 * instances).
 *
 * @example
 * ```ts
 * const lb = createBalancer<HttpKeyContext>()
 *   .backends(urls)
 *   .strategy(sticky(p2c(), { key: keyFromCookie('sid'), ttlMs: 15 * 60_000 }))
 *   .build()
 * ```
 */
export function sticky<Ctx = PickContext>(inner: Strategy<Ctx>, options?: StickyOptions<Ctx>): Strategy<Ctx> {
  checkStrategy<Ctx>('strategy.inner', inner)
  const o = checkOptions('strategy', options, ['key', 'ttlMs', 'max'])
  const key = optionalFunction<KeyExtractor<Ctx>>('strategy.key', o.key, keyFromContext<Ctx>())
  const ttlMs = optionalNumber('strategy.ttlMs', o.ttlMs, 30 * 60_000, { min: 1, max: 2 ** 31 - 1 })
  const max = optionalNumber('strategy.max', o.max, 100_000, { min: 1, max: 2 ** 24, integer: true })
  let table: AffinityTable | undefined
  return {
    name: `sticky(${inner.name})`,
    build(snapshot, env) {
      table ??= new AffinityTable(env.clock, ttlMs, max)
      return new StickySelector<Ctx>(snapshot, inner.build(snapshot, env), key, table)
    },
  }
}

/**
 * Key → backend id, on an LRU with idle TTL. Time comes from the pick's `now` (the balancer's clock,
 * read once per pick); lru-cache is told to set no timers (`ttlAutopurge: false`, `ttlResolution: 0`,
 * whose default would set a timer per clock read) and reads time only through `perf`.
 */
class AffinityTable {
  readonly cache: LRUCache<string, string>
  /** The time of the current pick, set before every cache operation. */
  now: number
  readonly #origin: number

  constructor(clock: Clock, ttlMs: number, max: number) {
    this.#origin = this.now = clock.now()
    this.cache = new LRUCache<string, string>({
      max,
      ttl: ttlMs,
      ttlAutopurge: false,
      ttlResolution: 0,
      updateAgeOnGet: true,
      // lru-cache treats a start time of 0 as "no TTL": shift the clock so that it never reads ≤ 0.
      perf: { now: () => this.now - this.#origin + 1 },
    })
  }
}

class StickySelector<Ctx> implements Selector<Ctx> {
  readonly #byId: ReadonlyMap<string, Backend>
  /** Eligible backends; in panic mode these include unhealthy ones, which may then keep their keys. */
  readonly #eligible: ReadonlySet<Backend>
  readonly #inner: Selector<Ctx>
  readonly #key: KeyExtractor<Ctx>
  readonly #table: AffinityTable

  constructor(snapshot: PoolSnapshot, inner: Selector<Ctx>, key: KeyExtractor<Ctx>, table: AffinityTable) {
    this.#byId = new Map(snapshot.all.map((b) => [b.id, b]))
    this.#eligible = new Set(snapshot.eligible)
    this.#inner = inner
    this.#key = key
    this.#table = table
  }

  select(ctx: Ctx, skip: BackendSet, now: number): Backend | undefined {
    const key = this.#key(ctx)
    if (typeof key !== 'string' || key.length === 0) return this.#inner.select(ctx, skip, now)
    const table = this.#table
    table.now = now
    const id = table.cache.get(key)
    if (id !== undefined) {
      const b = this.#byId.get(id)
      if (b !== undefined && this.#usable(b) && (skip.size === 0 || !skip.has(b))) return b
    }
    const chosen = this.#inner.select(ctx, skip, now)
    if (chosen !== undefined && chosen.id !== id) table.cache.set(key, chosen.id)
    return chosen
  }

  /** In the pool, not disabled, and healthy (or eligible anyway, in panic mode). */
  #usable(b: Backend): boolean {
    if (b.admin === 'disabled') return false
    return b.health === 'healthy' || this.#eligible.has(b)
  }
}

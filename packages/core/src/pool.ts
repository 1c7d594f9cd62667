import type { AdminState, Backend, BackendState } from './backend.js'
import { DuplicateBackendError, UnknownBackendError } from './errors.js'
import type { BalancerEvents } from './events.js'
import type { PoolSnapshot } from './strategy.js'

/** How many removed backends the pool remembers, so a re-added id gets its statistics back. */
const RETIRED_MAX = 4096

type Emit = <E extends keyof BalancerEvents>(event: E, ...args: BalancerEvents[E]) => void

/**
 * @internal Membership and states of a balancer's backends. Every change republishes an immutable
 * {@link PoolSnapshot} through `onPublish` (which rebuilds the strategy) unless inside `batch()`,
 * where one snapshot is published at the end. Backend objects are keyed by id: a weight change keeps
 * the object, and a removed id is remembered so that re-adding it revives health and counters.
 */
export class Pool {
  readonly #byId = new Map<string, Backend>()
  readonly #retired = new Map<string, Backend>()
  readonly #emit: Emit
  readonly #onPublish: (snapshot: PoolSnapshot) => void
  readonly #panicThreshold: number
  readonly #failOnPanic: boolean
  #snapshot: PoolSnapshot = Object.freeze({ version: 0, eligible: [], all: [], panic: false })
  #batch = 0
  #dirty = false

  constructor(
    emit: Emit,
    onPublish: (snapshot: PoolSnapshot) => void,
    panicThreshold: number,
    failOnPanic = false,
  ) {
    this.#emit = emit
    this.#onPublish = onPublish
    this.#panicThreshold = panicThreshold
    this.#failOnPanic = failOnPanic
  }

  /** The current snapshot. */
  get snapshot(): PoolSnapshot {
    return this.#snapshot
  }

  get size(): number {
    return this.#byId.size
  }

  get(id: string): Backend | undefined {
    return this.#byId.get(id)
  }

  require(id: string): Backend {
    const b = this.#byId.get(id)
    if (b === undefined) throw new UnknownBackendError(id)
    return b
  }

  /** Adds `fresh`, or revives the remembered backend with the same id (keeping its statistics). */
  add(fresh: Backend): Backend {
    if (this.#byId.has(fresh.id)) throw new DuplicateBackendError(fresh.id)
    let b = fresh
    const old = this.#retired.get(fresh.id)
    if (old !== undefined && old.address === fresh.address) {
      this.#retired.delete(fresh.id)
      old.weight = fresh.weight
      old.weightFactor = 1
      old.effectiveWeight = fresh.weight
      old.admin = fresh.admin
      old.meta = fresh.meta
      b = old
    }
    this.#byId.set(b.id, b)
    this.#emit('backend:add', b)
    this.#changed()
    return b
  }

  remove(id: string): Backend {
    const b = this.require(id)
    this.#byId.delete(id)
    this.#retired.set(id, b)
    if (this.#retired.size > RETIRED_MAX) this.#retired.delete(this.#retired.keys().next().value!)
    this.#emit('backend:remove', b)
    this.#changed()
    return b
  }

  setWeight(b: Backend, weight: number): void {
    const from = b.weight
    if (from === weight) return
    b.weight = weight
    b.effectiveWeight = weight * b.weightFactor
    this.#emit('backend:weight', { backend: b, from, to: weight })
    this.#changed()
  }

  setWeightFactor(b: Backend, factor: number): void {
    if (b.weightFactor === factor) return
    b.weightFactor = factor
    b.effectiveWeight = b.weight * factor
    this.#changed()
  }

  setAdmin(b: Backend, admin: AdminState, reason: string): void {
    if (b.admin === admin) return
    const from = b.state
    b.admin = admin
    this.#stateChanged(b, from, reason)
  }

  setHealth(b: Backend, source: string, healthy: boolean, reason: string): void {
    const reasons = b.unhealthyReasons
    if (healthy) {
      if (!reasons.delete(source)) return
    } else {
      if (reasons.get(source) === reason) return
      reasons.set(source, reason)
    }
    const from = b.state
    const health = reasons.size === 0 ? 'healthy' : 'unhealthy'
    // Only the reason changed: nothing a pick can see, so no snapshot and no strategy rebuild.
    if (health === b.health) return
    b.health = health
    // Back in service per its health sources: a fresh start for the built-in maxFails avoidance.
    if (health === 'healthy') b.counters.consecutiveFailures = 0
    if (b.state === from) {
      this.#changed()
      return
    }
    this.#stateChanged(b, from, `${source}: ${reason}`)
  }

  #stateChanged(b: Backend, from: BackendState, reason: string): void {
    const to = b.state
    if (to !== from) this.#emit('backend:state', { backend: b, from, to, reason })
    this.#changed()
  }

  /** Runs `fn` and publishes one snapshot for all its changes. */
  batch<T>(fn: () => T): T {
    this.#batch++
    try {
      return fn()
    } finally {
      if (--this.#batch === 0 && this.#dirty) this.#publish()
    }
  }

  #changed(): void {
    if (this.#batch > 0) this.#dirty = true
    else this.#publish()
  }

  #publish(): void {
    this.#dirty = false
    const all = [...this.#byId.values()]
    const candidates = all.filter((b) => b.admin === 'active' && b.weight > 0)
    const healthy = candidates.filter((b) => b.health === 'healthy')
    // Panic (Envoy): when too few backends are healthy, spreading load over all of them beats
    // crushing the few that are left.
    const panic =
      this.#panicThreshold > 0 &&
      candidates.length > 0 &&
      healthy.length < candidates.length &&
      healthy.length / candidates.length < this.#panicThreshold
    const wasPanic = this.#snapshot.panic
    this.#snapshot = Object.freeze({
      version: this.#snapshot.version + 1,
      // Arrays stay unfrozen (readonly by type): V8 reads elements of frozen arrays on a slow path.
      // `panicMode: 'fail'` (Envoy `fail_traffic_on_panic`): fail fast rather than use unhealthy backends.
      eligible: panic ? (this.#failOnPanic ? [] : candidates) : healthy,
      all,
      panic,
    })
    this.#onPublish(this.#snapshot)
    if (panic !== wasPanic)
      this.#emit('balancer:panic', { panic, healthy: healthy.length, total: candidates.length })
    this.#emit('pool:update', this.#snapshot)
  }
}

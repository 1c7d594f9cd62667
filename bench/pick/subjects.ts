/**
 * What the pick benchmark measures: every strategy (looked up by name in the `@fulcrum/strategies`
 * namespace, so that a factory not written yet is skipped, not a compile error), diagnostic variants,
 * reference floors and the `hashring` npm package, each turned into a {@link Case} at a pool size.
 */
import { circuitBreaker, concurrencyLimit } from '@fulcrum/breaker'
import {
  type Balancer,
  type Clock,
  createBalancer,
  type HealthCheck,
  type LeaseSlot,
  type Plugin,
  p2c,
  type Strategy,
  systemClock,
} from '@fulcrum/core'
import { outlierDetection } from '@fulcrum/health'
import * as S from '@fulcrum/strategies'
import HashRing from 'hashring'
import { acquireLoop, clockFloorLoop, floorLoop, hashringLoop, pickLoop, randomFloorLoop } from './loops.js'

export const SIZES = [3, 10, 100, 1000] as const

type Kind = 'strategy' | 'floor' | 'clock-floor' | 'random-floor' | 'hashring' | 'hashring-miss'

export interface Subject {
  readonly name: string
  readonly kind: Kind
  /** Weights 1..3 cycling instead of all 1. */
  readonly weighted?: boolean
  /** The strategy to build, or a string saying why it cannot be built. */
  readonly strategy?: () => Strategy | string
  /**
   * Diagnostic: a clock returning a small-integer tick counter instead of `performance.now()`, to
   * separate what the clock costs (time and boxed doubles) from what the balancer costs.
   */
  readonly tickClock?: boolean
  /**
   * Diagnostic: the strategy is built over an unfrozen copy of `snapshot.eligible` (the pool hands
   * out `Object.freeze`d arrays), to show what frozen-array element loads cost a strategy.
   */
  readonly thaw?: boolean
  /** Floor only: read the frozen array the pool publishes instead of a plain copy. */
  readonly frozen?: boolean
  /** Health checks and plugins on the pick/release path (fresh instances per case). */
  readonly extras?: () => { readonly health?: readonly HealthCheck[]; readonly use?: readonly Plugin[] }
}

let tick = 0
/** Never allocates: the value stays a small integer. Timers are the real ones (unused here). */
const tickClock: Clock = { ...systemClock, now: () => (tick = (tick + 1) | 0) }

type Factory = (...args: unknown[]) => Strategy
const lib = S as unknown as Readonly<Record<string, unknown>>

/** A factory of `@fulcrum/strategies` by export name, or a note saying it is missing. */
function factory(name: string): Factory | string {
  const f = lib[name]
  return typeof f === 'function' ? (f as Factory) : `@fulcrum/strategies does not export ${name}() (yet)`
}

function fromLib(name: string, extra: Partial<Subject> = {}): Subject {
  const make = () => {
    const f = factory(name)
    return typeof f === 'string' ? f : f()
  }
  return { name, kind: 'strategy', strategy: make, ...extra }
}

/** Builds `inner` over an unfrozen copy of the eligible backends (build time only; picks unchanged). */
function thawed(inner: Strategy): Strategy {
  return {
    name: inner.name,
    build: (snap, env) => inner.build({ ...snap, eligible: [...snap.eligible] }, env),
  }
}

function stickyRoundRobin(): Strategy | string {
  const sticky = factory('sticky')
  const rr = factory('roundRobin')
  if (typeof sticky === 'string') return sticky
  if (typeof rr === 'string') return rr
  return sticky(rr())
}

export const SUBJECTS: readonly Subject[] = [
  { name: 'p2c', kind: 'strategy', strategy: () => p2c() },
  { name: 'p2c (weights 1..3)', kind: 'strategy', weighted: true, strategy: () => p2c() },
  fromLib('roundRobin'),
  fromLib('weightedRoundRobin', { weighted: true }),
  fromLib('leastConnections'),
  fromLib('random'),
  fromLib('weightedRandom', { weighted: true }),
  fromLib('peakEwma'),
  fromLib('ringHash'),
  fromLib('maglev'),
  fromLib('rendezvous'),
  fromLib('boundedLoad'),
  { name: 'sticky(roundRobin())', kind: 'strategy', strategy: stickyRoundRobin },
  // What breaker, outlier detection and admission control add to pick + release.
  {
    name: 'p2c + circuitBreaker',
    kind: 'strategy',
    strategy: () => p2c(),
    extras: () => ({ use: [circuitBreaker()] }),
  },
  {
    name: 'p2c + outlierDetection',
    kind: 'strategy',
    strategy: () => p2c(),
    extras: () => ({ health: [outlierDetection()] }),
  },
  {
    name: 'p2c + breaker + outlier',
    kind: 'strategy',
    strategy: () => p2c(),
    extras: () => ({ health: [outlierDetection()], use: [circuitBreaker()] }),
  },
  {
    name: 'p2c + concurrencyLimit',
    kind: 'strategy',
    strategy: () => p2c(),
    extras: () => ({ use: [concurrencyLimit({ maxRequests: 1_000_000, maxRequestsPerBackend: 100_000 })] }),
  },
  // Diagnostics: what the clock costs, and what frozen arrays cost.
  { name: 'p2c (tick clock)', kind: 'strategy', strategy: () => p2c(), tickClock: true },
  fromLib('roundRobin', { name: 'roundRobin (tick clock)', tickClock: true }),
  fromLib('ringHash', { name: 'ringHash (tick clock)', tickClock: true }),
  fromLib('maglev', { name: 'maglev (tick clock)', tickClock: true }),
  { name: 'p2c (unfrozen eligible)', kind: 'strategy', strategy: () => p2c(), thaw: true },
  fromLib('weightedRoundRobin', {
    name: 'weightedRoundRobin (unfrozen eligible)',
    weighted: true,
    thaw: true,
  }),
  fromLib('leastConnections', { name: 'leastConnections (unfrozen eligible)', thaw: true }),
  // References.
  { name: 'floor: arr[i++ % n]', kind: 'floor' },
  { name: 'floor, frozen array', kind: 'floor', frozen: true },
  { name: 'floor + 2× clock.now()', kind: 'clock-floor' },
  { name: 'floor + 2× Math.random()', kind: 'random-floor' },
  { name: 'hashring.get (LRU hit)', kind: 'hashring' },
  { name: 'hashring.get (cache 1: miss)', kind: 'hashring-miss' },
]

export function subjectByName(name: string): Subject | undefined {
  return SUBJECTS.find((s) => s.name === name)
}

/** One subject at one pool size. */
export interface Case {
  /** `ops` × (`lb.acquire(ctx, slot)` + `lb.release(slot, OK)`), or the reference operation. */
  readonly acquire: (ops: number) => number
  /** `ops` × (`lb.pick(ctx)` + `lease.release()`); undefined for references (no lease exists). */
  readonly pick: ((ops: number) => number) | undefined
  close(): void
}

/**
 * The balancer (or reference) for `subject` over `n` backends, or a string saying why it is skipped.
 * `tick` swaps the real clock for the non-allocating tick clock.
 */
export function makeCase(subject: Subject, n: number, tick = subject.tickClock === true): Case | string {
  const specs = Array.from({ length: n }, (_, i) => ({
    id: `b${i}`,
    host: '127.0.0.1',
    port: 10000 + i,
    weight: subject.weighted ? 1 + (i % 3) : 1,
  }))
  if (subject.kind === 'hashring' || subject.kind === 'hashring-miss') {
    const servers = specs.map((s) => `${s.host}:${s.port}`)
    const options = subject.kind === 'hashring' ? {} : { 'max cache size': 1 }
    const ring = new HashRing(servers, 'md5', options)
    return { acquire: (ops) => hashringLoop(ring, ops), pick: undefined, close() {} }
  }
  let strategy: Strategy | string = p2c()
  if (subject.kind === 'strategy') {
    try {
      strategy = subject.strategy!()
    } catch (err) {
      return `factory threw: ${(err as Error).message}`
    }
    if (typeof strategy === 'string') return strategy
    if (subject.thaw) strategy = thawed(strategy)
  }
  let lb: Balancer
  try {
    let builder = createBalancer().backends(specs).strategy(strategy)
    const extras = subject.extras?.()
    for (const h of extras?.health ?? []) builder = builder.health(h)
    for (const p of extras?.use ?? []) builder = builder.use(p)
    lb = (tick ? builder.clock(tickClock) : builder).build()
  } catch (err) {
    return `build threw: ${(err as Error).message}`
  }
  const close = () => void lb.close()
  if (subject.kind !== 'strategy') {
    const list = subject.frozen ? lb.backends() : [...lb.backends()]
    const at = { i: 0 }
    const loop =
      subject.kind === 'floor' ? floorLoop : subject.kind === 'clock-floor' ? clockFloorLoop : randomFloorLoop
    return { acquire: (ops) => loop(list, at, ops), pick: undefined, close }
  }
  const slot: LeaseSlot = { backend: undefined, startedAt: 0, held: false }
  return { acquire: (ops) => acquireLoop(lb, slot, ops), pick: (ops) => pickLoop(lb, ops), close }
}

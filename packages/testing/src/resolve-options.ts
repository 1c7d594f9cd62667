import {
  type BackendInit,
  type BalancerBuilder,
  checkArray,
  checkFunction,
  checkKeys,
  checkNumber,
  checkObject,
  checkString,
  describeValue,
  InvalidOptionError,
  optionalNumber,
} from '@fulcrum/core'
import { type Distribution, toDistribution } from './distributions.js'
import type { Seed, SeededRandom } from './seeded-random.js'
import type {
  SimulatedBackendEvent,
  SimulatedBackendSpec,
  SimulatedLoad,
  SimulateOptions,
  SimulationAction,
} from './simulate-options.js'
import { checkTrue } from './validate.js'

/** @internal A validated backend. */
export interface ResolvedBackend {
  readonly id: string
  readonly path: string
  readonly latency: Distribution
  readonly errorRate: number
  readonly events: readonly SimulatedBackendEvent[]
  readonly joinAt: number
  readonly leaveAt: number
  readonly init: BackendInit
}

/** @internal Validated options. */
export interface ResolvedOptions<Ctx> {
  readonly builder: BalancerBuilder<Ctx>
  readonly backends: readonly ResolvedBackend[]
  readonly load:
    | { readonly rps: number; readonly concurrency: 0 }
    | { readonly rps: 0; readonly concurrency: number }
  readonly durationMs: number
  readonly seed: Seed
  readonly context: ((index: number, random: SeededRandom) => Ctx) | undefined
  readonly timelineMs: number
  readonly actions: readonly SimulationAction<Ctx>[]
  readonly maxRequests: number
}

const OPTION_KEYS = [
  'balancer',
  'backends',
  'load',
  'durationMs',
  'seed',
  'key',
  'context',
  'timelineMs',
  'actions',
  'maxRequests',
]
const BACKEND_KEYS = ['id', 'latency', 'errorRate', 'events', 'joinAt', 'leaveAt', 'weight', 'zone', 'meta']
const EVENT_KEYS = ['at', 'slow', 'errorRate', 'die', 'recover']
/** First fake port; backend `i` listens (in name only) on `FIRST_PORT + i`. */
const FIRST_PORT = 20_001
const MAX_BACKENDS = 10_000
const MAX_BUCKETS = 100_000

/** @internal Validates `simulate()` options; throws `InvalidOptionError` naming the option path. */
export function resolveOptions<Ctx>(options: SimulateOptions<Ctx>): ResolvedOptions<Ctx> {
  checkObject('options', options)
  checkKeys('', options, OPTION_KEYS)
  const builder = options.balancer as unknown
  checkObject('balancer', builder)
  for (const m of ['clock', 'random', 'backends', 'build'])
    if (typeof builder[m] !== 'function')
      throw new InvalidOptionError(
        'balancer',
        'expected a BalancerBuilder, e.g. createBalancer().retry({ retries: 1 })',
      )

  checkArray('backends', options.backends)
  if (options.backends.length === 0) throw new InvalidOptionError('backends', 'expected at least one backend')
  if (options.backends.length > MAX_BACKENDS)
    throw new InvalidOptionError('backends', `expected at most ${MAX_BACKENDS} backends`)
  const ids = new Set<string>()
  const backends = options.backends.map((spec, i) => resolveBackend(spec, i, ids))

  const durationMs = checkNumber('durationMs', options.durationMs, { min: 0, minExclusive: true })
  const maxRequests = optionalNumber('maxRequests', options.maxRequests, 1_000_000, { min: 1, integer: true })
  const load = resolveLoad(options.load, durationMs, maxRequests)

  const seed = options.seed ?? 0
  if (typeof seed !== 'string') checkNumber('seed', seed)

  if (options.key !== undefined && options.context !== undefined)
    throw new InvalidOptionError('context', 'give either key or context, not both')
  let context = options.context
  if (context !== undefined) checkFunction('context', context)
  const key = options.key
  if (key !== undefined) {
    checkFunction('key', key)
    context = (index, random) => ({ key: key(index, random) }) as Ctx
  }

  const timelineMs = optionalNumber('timelineMs', options.timelineMs, 1_000, { min: 0, minExclusive: true })
  if (durationMs / timelineMs > MAX_BUCKETS)
    throw new InvalidOptionError('timelineMs', `too fine: more than ${MAX_BUCKETS} buckets over durationMs`)

  const actions = options.actions ?? []
  checkArray('actions', actions)
  actions.forEach((a, i) => {
    checkObject(`actions[${i}]`, a)
    checkKeys(`actions[${i}]`, a, ['at', 'run'])
    checkNumber(`actions[${i}].at`, a.at, { min: 0 })
    checkFunction(`actions[${i}].run`, a.run)
  })

  return {
    builder: options.balancer,
    backends,
    load,
    durationMs,
    seed,
    context,
    timelineMs,
    actions,
    maxRequests,
  }
}

function resolveBackend(spec: SimulatedBackendSpec, i: number, ids: Set<string>): ResolvedBackend {
  const path = `backends[${i}]`
  checkObject(path, spec)
  checkKeys(path, spec, BACKEND_KEYS)
  const id = checkString(`${path}.id`, spec.id)
  if (ids.has(id)) throw new InvalidOptionError(`${path}.id`, `duplicate backend id ${describeValue(id)}`)
  ids.add(id)
  const latency = toDistribution(spec.latency ?? 10, `${path}.latency`)
  const errorRate = optionalNumber(`${path}.errorRate`, spec.errorRate, 0, { min: 0, max: 1 })
  const joinAt = optionalNumber(`${path}.joinAt`, spec.joinAt, 0, { min: 0 })
  const leaveAt = optionalNumber(`${path}.leaveAt`, spec.leaveAt, Number.POSITIVE_INFINITY, {
    min: joinAt,
    minExclusive: true,
    infinite: true,
  })
  const events = spec.events ?? []
  checkArray(`${path}.events`, events)
  events.forEach((e, j) => {
    resolveEvent(e, `${path}.events[${j}]`)
  })
  const init: { -readonly [K in keyof BackendInit]: BackendInit[K] } = {
    id,
    host: '127.0.0.1',
    port: FIRST_PORT + i,
  }
  if (spec.weight !== undefined) init.weight = checkNumber(`${path}.weight`, spec.weight, { min: 0 })
  if (spec.zone !== undefined) init.zone = checkString(`${path}.zone`, spec.zone)
  if (spec.meta !== undefined) {
    checkObject(`${path}.meta`, spec.meta)
    init.meta = spec.meta
  }
  // A stable sort keeps events with equal `at` in declaration order.
  const sorted = [...events].sort((a, b) => a.at - b.at)
  return { id, path, latency, errorRate, events: sorted, joinAt, leaveAt, init }
}

function resolveEvent(e: SimulatedBackendEvent, path: string): void {
  checkObject(path, e)
  checkKeys(path, e, EVENT_KEYS)
  checkNumber(`${path}.at`, e.at, { min: 0 })
  if (e.slow !== undefined) checkNumber(`${path}.slow`, e.slow, { min: 0, minExclusive: true })
  if (e.errorRate !== undefined) checkNumber(`${path}.errorRate`, e.errorRate, { min: 0, max: 1 })
  if (e.die !== undefined) checkTrue(`${path}.die`, e.die)
  if (e.recover !== undefined) checkTrue(`${path}.recover`, e.recover)
  if (e.die && e.recover) throw new InvalidOptionError(path, 'an event cannot both die and recover')
  if (e.slow === undefined && e.errorRate === undefined && !e.die && !e.recover)
    throw new InvalidOptionError(path, 'expected at least one of slow, errorRate, die, recover')
}

function resolveLoad(
  load: SimulatedLoad,
  durationMs: number,
  maxRequests: number,
): ResolvedOptions<unknown>['load'] {
  checkObject('load', load)
  checkKeys('load', load, ['rps', 'concurrency'])
  const l = load as { rps?: unknown; concurrency?: unknown }
  if ((l.rps === undefined) === (l.concurrency === undefined))
    throw new InvalidOptionError(
      'load',
      'expected exactly one of rps (open loop) or concurrency (closed loop)',
    )
  if (l.rps !== undefined) {
    const rps = checkNumber('load.rps', l.rps, { min: 0, minExclusive: true })
    const expected = (rps * durationMs) / 1000
    if (expected > maxRequests)
      throw new InvalidOptionError(
        'load.rps',
        `${rps} rps for ${durationMs} ms means ~${Math.round(expected)} requests, more than maxRequests (${maxRequests})`,
      )
    return { rps, concurrency: 0 }
  }
  const concurrency = checkNumber('load.concurrency', l.concurrency, { min: 1, max: 100_000, integer: true })
  return { rps: 0, concurrency }
}

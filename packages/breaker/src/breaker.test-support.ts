/**
 * Shared helpers of this package's tests (not part of the build: `*.test-support.ts` is excluded
 * from the package's tsconfig and files).
 */
import {
  type Balancer,
  type BreakerStateEvent,
  createBalancer,
  type Outcome,
  type Plugin,
  type RequestRejectedEvent,
  type Strategy,
} from '@fulcrum/core'
import { seededRandom, VirtualClock } from '@fulcrum/testing'

/** Always the first eligible backend not skipped: picks are predictable (a, then b, then c …). */
export const ordered: Strategy = {
  name: 'ordered',
  build: (snap) => ({
    select: (_ctx, skip) => {
      for (const b of snap.eligible) if (!skip.has(b)) return b
      return undefined
    },
  }),
}

/** Backend specs with fake URLs. */
export const specs = (ids: readonly string[]) =>
  ids.map((id, i) => ({ id, url: `http://10.0.0.${i + 1}:80` }))

/** A balancer on a virtual clock with seeded random, `ordered` picks and no built-in `maxFails`. */
export function setup(plugins: readonly Plugin<unknown>[], ids: readonly string[] = ['a', 'b', 'c']) {
  const clock = new VirtualClock({ start: 1_000_000 })
  let builder = createBalancer({ maxFails: 0 })
    .backends(specs(ids))
    .strategy(ordered)
    .clock(clock)
    .random(seededRandom('breaker'))
  for (const p of plugins) builder = builder.use(p)
  const lb = builder.build()
  const transitions: BreakerStateEvent[] = []
  const rejections: RequestRejectedEvent[] = []
  lb.on('breaker:state', (e) => transitions.push(e))
  lb.on('request:rejected', (e) => rejections.push(e))
  return { lb, clock, transitions, rejections }
}

export const CONNECT: Outcome = Object.freeze({ ok: false, error: 'connect' })

/** Picks `n` times, releasing each lease at once with `outcome`; returns the ids picked. */
export function run(lb: Balancer, n: number, outcome: Outcome = { ok: true }): string[] {
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const lease = lb.pick()
    ids.push(lease.backend!.id)
    lease.release(outcome)
  }
  return ids
}

/** `[id, from, to, reason]` of each transition. */
export const steps = (events: readonly BreakerStateEvent[]) =>
  events.map((e) => [e.backend.id, e.from, e.to, e.reason])

/** Lets pending promise continuations run. */
export const flush = () => new Promise<void>((resolve) => setImmediate(resolve))

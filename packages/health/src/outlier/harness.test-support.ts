import {
  BackendSet,
  type BackendStateEvent,
  type Balancer,
  type BalancerControl,
  type BalancerOptions,
  createBalancer,
  type HealthCheck,
  type MetricLabels,
  type MetricsSink,
  type Outcome,
} from '@fulcrum/core'
import { seededRandom, VirtualClock } from '@fulcrum/testing'

/** Backend specs with ids `b0` … `b{n-1}`. */
export function specs(n: number, weight = 1): { id: string; host: string; port: number; weight: number }[] {
  return Array.from({ length: n }, (_, i) => ({ id: `b${i}`, host: '127.0.0.1', port: 9000 + i, weight }))
}

/** A deterministic balancer over `n` backends with the given health mechanisms. */
export function setup(
  n: number,
  health: readonly HealthCheck[],
  options: BalancerOptions = {},
  sink?: MetricsSink,
): { lb: Balancer; clock: VirtualClock; states: BackendStateEvent[] } {
  const clock = new VirtualClock()
  let builder = createBalancer(options).backends(specs(n)).clock(clock).random(seededRandom(1))
  for (const h of health) builder = builder.health(h)
  if (sink !== undefined) builder = builder.observe(sink)
  const lb = builder.build()
  const states: BackendStateEvent[] = []
  lb.on('backend:state', (e) => states.push(e))
  return { lb, clock, states }
}

/** Picks backend `id` (every other backend marked as tried) and releases it with `outcome`, `times` times. */
export function hit(lb: Balancer, id: string, outcome: Outcome, times = 1): void {
  const others = new BackendSet()
  for (const b of lb.backends()) if (b.id !== id) others.add(b)
  for (let i = 0; i < times; i++) {
    const lease = lb.pick(undefined, others)
    if (lease.backend?.id !== id) throw new Error(`picked ${lease.backend?.id}, wanted ${id}`)
    lease.release(outcome)
  }
}

/** Counts picks per backend id over `n` picks released at once with success. */
export function shares(lb: Balancer, n: number): Record<string, number> {
  const counts: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const lease = lb.pick()
    const id = lease.backend!.id
    counts[id] = (counts[id] ?? 0) + 1
    lease.release()
  }
  return counts
}

/** A health source driven by the test: `set(id, healthy)`, `check(id, ok)` emits `health:check`. */
export function manualHealth(source = 'test'): HealthCheck & {
  set(id: string, healthy: boolean): void
  check(id: string, ok: boolean): void
  readonly control: BalancerControl
} {
  let control: BalancerControl | undefined
  return {
    name: 'manual-health',
    start(c) {
      control = c
    },
    get control() {
      return control!
    },
    set(id, healthy) {
      control!.setHealth(control!.get(id)!, source, healthy, healthy ? 'up' : 'down')
    },
    check(id, ok) {
      control!.emit('health:check', {
        backend: control!.get(id)!,
        source: `active:${source}`,
        ok,
        reason: ok ? 'ok' : 'failed',
        latencyMs: 1,
      })
    },
  }
}

/** A MetricsSink that records gauge writes. */
export function recordingSink(): MetricsSink & {
  gauges: { name: string; value: number; labels: MetricLabels }[]
} {
  const gauges: { name: string; value: number; labels: MetricLabels }[] = []
  return {
    gauges,
    counter() {},
    gauge(name, value, labels) {
      gauges.push({ name, value, labels })
    },
    histogram() {},
  }
}

export const CONNECT: Outcome = { ok: false, error: 'connect' }
export const OK_: Outcome = { ok: true }

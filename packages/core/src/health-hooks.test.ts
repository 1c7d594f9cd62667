import { describe, expect, it } from 'vitest'
import type { Balancer } from './balancer.js'
import { createBalancer } from './builder.js'
import { NoBackendError } from './errors.js'
import type { BalancerControl, HealthCheck, MetricsSink } from './plugin.js'
import { Sfc32Random } from './sfc32.js'

const urls = [
  'http://127.0.0.1:9001',
  'http://127.0.0.1:9002',
  'http://127.0.0.1:9003',
  'http://127.0.0.1:9004',
]

/** A health source the test drives by hand. */
function manual(passive = false): HealthCheck & { control?: BalancerControl } {
  const h: HealthCheck & { control?: BalancerControl } = {
    name: 'manual',
    passive,
    start: (c) => {
      h.control = c
    },
  }
  return h
}

describe('panic mode', () => {
  it('is on by default below 50 % healthy and routes to all active backends', () => {
    const h = manual()
    const lb = createBalancer().backends(urls).health(h).build()
    const panics: boolean[] = []
    lb.on('balancer:panic', (e) => panics.push(e.panic))
    const [a, b, c] = lb.backends()
    h.control!.setHealth(a!, 'manual', false, 'down')
    h.control!.setHealth(b!, 'manual', false, 'down')
    expect(lb.snapshot().panic).toBe(false) // 2 of 4 = 50 %, not below
    expect(lb.pool.eligible).toHaveLength(2)
    h.control!.setHealth(c!, 'manual', false, 'down')
    expect(lb.snapshot().panic).toBe(true)
    expect(lb.pool.eligible).toHaveLength(4)
    h.control!.setHealth(c!, 'manual', true, 'up')
    expect(lb.snapshot().panic).toBe(false)
    expect(panics).toEqual([true, false])
  })

  it("panicMode 'fail' fails every pick fast while in panic", () => {
    const h = manual()
    const lb = createBalancer({ panicMode: 'fail' }).backends(urls).health(h).build()
    for (const b of lb.backends().slice(0, 3)) h.control!.setHealth(b, 'manual', false, 'down')
    expect(lb.snapshot().panic).toBe(true)
    expect(() => lb.pick()).toThrow(NoBackendError)
  })

  it('panicThreshold 0 uses only healthy backends, and none left is NoBackendError', () => {
    const h = manual()
    const lb = createBalancer({ panicThreshold: 0 }).backends(urls).health(h).build()
    for (const b of lb.backends().slice(0, 3)) h.control!.setHealth(b, 'manual', false, 'down')
    for (let i = 0; i < 20; i++) {
      const lease = lb.pick()
      expect(lease.backend).toBe(lb.backends()[3])
      lease.release()
    }
    h.control!.setHealth(lb.backends()[3]!, 'manual', false, 'down')
    expect(() => lb.pick()).toThrow(NoBackendError)
  })

  it('reports panic through the metrics gauge', () => {
    const gauges: [string, number][] = []
    const sink: MetricsSink = {
      counter: () => {},
      histogram: () => {},
      gauge: (name, value) => {
        if (name === 'fulcrum_balancer_panic') gauges.push([name, value])
      },
    }
    const h = manual()
    const lb = createBalancer().backends(urls.slice(0, 2)).health(h).observe(sink).build()
    h.control!.setHealth(lb.backends()[0]!, 'manual', false, 'down')
    h.control!.setHealth(lb.backends()[1]!, 'manual', false, 'down')
    h.control!.setHealth(lb.backends()[1]!, 'manual', true, 'up')
    expect(gauges.map(([, v]) => v)).toEqual([0, 1, 0])
  })
})

describe('weight factor (slow start)', () => {
  it('scales effectiveWeight and the share of weighted picks, keeps the configured weight', () => {
    const h = manual()
    const lb = createBalancer()
      .backends(urls.slice(0, 2))
      .random(new Sfc32Random(7, 11, 13, 17))
      .health(h)
      .build()
    const a = lb.backends()[0]!
    const b = lb.backends()[1]!
    h.control!.setWeightFactor(a, 0.25)
    expect(a.weight).toBe(1)
    expect(a.effectiveWeight).toBe(0.25)
    expect(a.toJSON().effectiveWeight).toBe(0.25)
    let onA = 0
    for (let i = 0; i < 10_000; i++) {
      const lease = lb.pick()
      if (lease.backend === a) onA++
      lease.release()
    }
    // Idle backends tie, so the weighted first sample decides: 0.25 / 1.25 = 20 %.
    expect(onA / 10_000).toBeGreaterThan(0.17)
    expect(onA / 10_000).toBeLessThan(0.23)
    lb.setWeight(a.id, 2)
    expect(a.effectiveWeight).toBe(0.5)
    h.control!.setWeightFactor(a, 1)
    expect(a.effectiveWeight).toBe(2)
    expect(b.effectiveWeight).toBe(1)
    expect(() => h.control!.setWeightFactor(a, 0)).toThrow(/weightFactor/)
  })
})

describe('outlier detection supersedes maxFails', () => {
  it('turns the built-in maxFails off unless it is set explicitly', () => {
    const failThrice = (lb: Balancer) => {
      const first = lb.backends()[0]!
      for (let i = 0; i < 3; i++) {
        const s = { backend: undefined, startedAt: 0, held: false }
        lb.acquireBackend(first, {}, s)
        lb.release(s, { ok: false, error: 'connect' })
      }
      const s = { backend: undefined, startedAt: 0, held: false }
      return lb.acquireBackend(first, {}, s)
    }
    expect(failThrice(createBalancer().backends(urls).build())).toBe(false)
    expect(failThrice(createBalancer().backends(urls).health(manual(true)).build())).toBe(true)
    expect(failThrice(createBalancer({ maxFails: 3 }).backends(urls).health(manual(true)).build())).toBe(
      false,
    )
  })
})

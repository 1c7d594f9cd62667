import { describe, expect, it } from 'vitest'
import { BackendSet } from './backend-set.js'
import { createBalancer } from './builder.js'
import { NoBackendError } from './errors.js'
import type { BalancerControl } from './plugin.js'

const urls = ['http://127.0.0.1:9001', 'http://127.0.0.1:9002', 'http://127.0.0.1:9003']

describe('Balancer.pick / release', () => {
  it('counts in-flight requests and releases exactly once', () => {
    const lb = createBalancer().backends(urls).build()
    const lease = lb.pick()
    const b = lease.backend!
    expect(b.inflight).toBe(1)
    lease.release()
    lease.release()
    lease.release({ ok: false, error: 'connect' })
    expect(b.inflight).toBe(0)
    expect(b.counters.requests).toBe(1)
    expect(b.counters.failures).toBe(0)
  })

  it('throws NoBackendError on an empty pool, never returns undefined', () => {
    const lb = createBalancer().build()
    expect(() => lb.pick()).toThrow(NoBackendError)
    try {
      lb.pick()
    } catch (err) {
      expect((err as NoBackendError).code).toBe('FULCRUM_ERR_NO_BACKEND')
    }
  })

  it('never picks a tried backend', () => {
    const lb = createBalancer().backends(urls).build()
    for (let round = 0; round < 200; round++) {
      const tried = new BackendSet()
      const seen = new Set<string>()
      for (let i = 0; i < urls.length; i++) {
        const lease = lb.pick(undefined, tried)
        expect(seen.has(lease.backend!.id)).toBe(false)
        seen.add(lease.backend!.id)
        tried.add(lease.backend!)
        lease.release()
      }
      expect(() => lb.pick(undefined, tried)).toThrow(NoBackendError)
    }
  })

  it('gives drained, disabled and unhealthy backends no new picks', () => {
    const lb = createBalancer().backends(urls).build()
    lb.drain(urls[0]!)
    lb.disable(urls[1]!)
    for (let i = 0; i < 100; i++) {
      const lease = lb.pick()
      expect(lease.backend!.id).toBe(urls[2])
      lease.release()
    }
    expect(lb.get(urls[0]!)!.state).toBe('draining')
    expect(lb.get(urls[1]!)!.state).toBe('disabled')
  })

  it('gives unhealthy backends no new picks, and takes them back when healthy again', () => {
    let control: BalancerControl | undefined
    const lb = createBalancer()
      .backends(urls)
      .health({ name: 'h', start: (c) => void (control = c) })
      .build()
    const sick = lb.get(urls[1]!)!
    control!.setHealth(sick, 'h', false, 'probe failed')
    for (let i = 0; i < 300; i++) {
      const lease = lb.pick()
      expect(lease.backend).not.toBe(sick)
      lease.release()
    }
    control!.setHealth(sick, 'h', true, 'probe passed')
    const seen = new Set<string>()
    for (let i = 0; i < 300; i++) {
      const lease = lb.pick()
      seen.add(lease.backend!.id)
      lease.release()
    }
    expect(seen.has(sick.id)).toBe(true)
  })
})

import { describe, expect, it } from 'vitest'
import { createBalancer } from './builder.js'
import type { LeaseSlot } from './lease.js'

const urls = ['http://127.0.0.1:9001', 'http://127.0.0.1:9002', 'http://127.0.0.1:9003']
const slot = (): LeaseSlot => ({ backend: undefined, startedAt: 0, held: false })

describe('Balancer.acquireBackend (affinity hits)', () => {
  it('holds the given backend and releases it like acquire()', () => {
    const lb = createBalancer().backends(urls).build()
    const b = lb.backends()[2]!
    const s = slot()
    expect(lb.acquireBackend(b, {}, s)).toBe(true)
    expect(s.backend).toBe(b)
    expect(b.inflight).toBe(1)
    lb.release(s)
    lb.release(s)
    expect(b.inflight).toBe(0)
  })

  it('keeps draining backends, refuses disabled, removed and unhealthy ones', () => {
    let setHealth: ((id: string, healthy: boolean) => void) | undefined
    const lb = createBalancer({ panicThreshold: 0 })
      .backends(urls)
      .use({
        name: 'probe',
        start: (c) => {
          setHealth = (id, healthy) => c.setHealth(c.get(id)!, 'probe', healthy, 'test')
        },
      })
      .build()
    const [a, b, c] = lb.backends() as [never, never, never]
    lb.drain(lb.backends()[0]!.id)
    const s = slot()
    expect(lb.acquireBackend(a, {}, s)).toBe(true)
    lb.release(s)
    lb.disable(lb.backends()[1]!.id)
    expect(lb.acquireBackend(b, {}, s)).toBe(false)
    expect(s.held).toBe(false)
    setHealth!(lb.backends()[2]!.id, false)
    expect(lb.acquireBackend(c, {}, s)).toBe(false)
    lb.remove(lb.backends()[0]!.id)
    expect(lb.acquireBackend(a, {}, s)).toBe(false)
  })

  it('respects plugin vetoes', () => {
    const lb = createBalancer()
      .backends(urls)
      .use({ name: 'veto', accept: (b) => !b.id.endsWith('9001') })
      .build()
    const s = slot()
    expect(lb.acquireBackend(lb.backends()[0]!, {}, s)).toBe(false)
    expect(lb.acquireBackend(lb.backends()[1]!, {}, s)).toBe(true)
  })

  it('marks whether .retry() was configured', () => {
    expect(createBalancer().build().retryPolicy.configured).toBe(false)
    expect(createBalancer().retry({ retries: 0 }).build().retryPolicy.configured).toBe(true)
  })
})

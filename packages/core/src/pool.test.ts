import { describe, expect, it } from 'vitest'
import { createBalancer } from './builder.js'
import type { BackendStateEvent } from './events.js'
import type { BalancerControl } from './plugin.js'

const urls = ['http://127.0.0.1:9001', 'http://127.0.0.1:9002', 'http://127.0.0.1:9003']

function withControl() {
  let control: BalancerControl | undefined
  const lb = createBalancer()
    .backends(urls)
    .health({ name: 'test', start: (c) => void (control = c) })
    .build()
  return { lb, control: control! }
}

describe('pool membership and states', () => {
  it('republishes an immutable snapshot on every change', () => {
    const lb = createBalancer().backends(urls).build()
    const before = lb.pool
    expect(Object.isFrozen(before)).toBe(true)
    lb.drain(urls[0]!)
    expect(lb.pool).not.toBe(before)
    expect(lb.pool.version).toBe(before.version + 1)
    expect(before.eligible).toHaveLength(3)
    expect(lb.pool.eligible.map((b) => b.id)).toEqual(urls.slice(1))
  })

  it('keeps statistics and health by id across weight changes, removal and re-adding', () => {
    const { lb, control } = withControl()
    const a = lb.get(urls[0]!)!
    for (let i = 0; i < 5; i++) {
      const lease = lb.pick(undefined)
      lease.release({ ok: false, error: 'reset' })
    }
    control.setHealth(a, 'test', false, 'probe failed')
    lb.setWeight(urls[0]!, 3)
    expect(lb.get(urls[0]!)).toBe(a)
    const failures = a.counters.failures
    lb.remove(urls[0]!)
    expect(lb.get(urls[0]!)).toBeUndefined()
    const again = lb.add({ url: urls[0]!, weight: 5 })
    expect(again).toBe(a)
    expect(again.weight).toBe(5)
    expect(again.counters.failures).toBe(failures)
    expect(again.health).toBe('unhealthy')
  })

  it('keeps in-flight accounting right when a leased backend is removed', () => {
    const lb = createBalancer().backends([urls[0]!]).build()
    const lease = lb.pick()
    const b = lease.backend!
    lb.remove(b.id)
    expect(() => lb.pick()).toThrow(/pool is empty/)
    lease.release()
    expect(b.inflight).toBe(0)
  })

  it('emits backend:state with from, to and reason; health needs every source to agree', () => {
    const { lb, control } = withControl()
    const events: BackendStateEvent[] = []
    lb.on('backend:state', (e) => events.push(e))
    const b = lb.get(urls[1]!)!
    control.setHealth(b, 'active', false, 'timeout')
    control.setHealth(b, 'outlier', false, '5 consecutive failures')
    control.setHealth(b, 'active', true, 'passed')
    expect(b.state).toBe('unhealthy')
    control.setHealth(b, 'outlier', true, 'ejection ended')
    expect(b.state).toBe('healthy')
    lb.drain(b.id, 'deploy')
    lb.enable(b.id)
    expect(events.map((e) => [e.from, e.to, e.reason])).toEqual([
      ['healthy', 'unhealthy', 'active: timeout'],
      ['unhealthy', 'healthy', 'outlier: ejection ended'],
      ['healthy', 'draining', 'deploy'],
      ['draining', 'healthy', 'enable'],
    ])
  })

  it('weight 0 takes no new picks; update() publishes once', () => {
    const lb = createBalancer().backends(urls).build()
    let updates = 0
    lb.on('pool:update', () => updates++)
    lb.update((l) => {
      l.setWeight(urls[0]!, 0)
      l.setWeight(urls[1]!, 0)
    })
    expect(updates).toBe(1)
    for (let i = 0; i < 50; i++) {
      const lease = lb.pick()
      expect(lease.backend!.id).toBe(urls[2])
      lease.release()
    }
  })

  it('enters panic mode below the threshold and routes to all active backends', () => {
    let control: BalancerControl | undefined
    const lb = createBalancer({ panicThreshold: 0.5 })
      .backends(urls)
      .health({ name: 'h', start: (c) => void (control = c) })
      .build()
    const panics: boolean[] = []
    lb.on('balancer:panic', (e) => panics.push(e.panic))
    const [a, b] = lb.backends()
    control!.setHealth(a!, 'h', false, 'down')
    expect(lb.pool.panic).toBe(false)
    expect(lb.pool.eligible).toHaveLength(2)
    control!.setHealth(b!, 'h', false, 'down')
    expect(lb.pool.panic).toBe(true)
    expect(lb.pool.eligible).toHaveLength(3)
    control!.setHealth(b!, 'h', true, 'up')
    expect(panics).toEqual([true, false])
  })

  it('close() stops plugins, rejects picks and supports await using', async () => {
    let closed = 0
    const lb = createBalancer()
      .backends(urls)
      .use({ name: 'p', close: () => void closed++ })
      .build()
    await lb[Symbol.asyncDispose]()
    await lb.close()
    expect(closed).toBe(1)
    expect(() => lb.pick()).toThrow(expect.objectContaining({ code: 'FULCRUM_ERR_CLOSED' }))
  })
})

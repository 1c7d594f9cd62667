import {
  type Balancer,
  BalancerClosedError,
  InvalidOptionError,
  type Lease,
  type LeaseSlot,
  OverloadError,
  sharedScheduler,
} from '@fulcrum/core'
import { seededRandom } from '@fulcrum/testing'
import { describe, expect, it } from 'vitest'
import { flush, setup, specs } from './breaker.test-support.js'
import { concurrencyLimit } from './concurrency-limit.js'

const slot = (): LeaseSlot => ({ backend: undefined, startedAt: 0, held: false })

/** Starts `acquireAsync` on a fresh slot; records settlement without unhandled rejections. */
function queued(lb: Balancer, signal?: AbortSignal) {
  const s = slot()
  const r = { slot: s, done: false, id: undefined as string | undefined, error: undefined as unknown }
  lb.acquireAsync({}, s, undefined, signal).then(
    (b) => {
      r.done = true
      r.id = b.id
    },
    (e: unknown) => {
      r.done = true
      r.error = e
    },
  )
  return r
}

function overload(fn: () => unknown): OverloadError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(OverloadError)
    return e as OverloadError
  }
  throw new Error('expected an OverloadError')
}

describe('concurrencyLimit: limits', () => {
  it('never holds more than maxRequests, nor maxRequestsPerBackend on a backend', () => {
    const limit = concurrencyLimit({ maxRequests: 5, maxRequestsPerBackend: 2 })
    const { lb } = setup([limit])
    const random = seededRandom('limits')
    const held: Lease[] = []
    let refused = 0
    let worst = 0
    let worstPerBackend = 0
    for (let i = 0; i < 2_000; i++) {
      if (held.length > 0 && random.next() < 0.45) held.splice(random.int(held.length), 1)[0]!.release()
      else
        try {
          held.push(lb.pick())
        } catch (e) {
          expect(e).toBeInstanceOf(OverloadError)
          refused++
        }
      if (limit.stats().held !== held.length) throw new Error(`held ${limit.stats().held} ≠ ${held.length}`)
      worst = Math.max(worst, held.length)
      for (const b of lb.backends()) worstPerBackend = Math.max(worstPerBackend, b.inflight)
    }
    expect([worst, worstPerBackend]).toEqual([5, 2])
    expect(refused).toBeGreaterThan(0)
    expect(held.length).toBeGreaterThan(0)
  })

  it('fails fast with FULCRUM_ERR_OVERLOAD and retryAfterMs', async () => {
    const limit = concurrencyLimit({ maxRequests: 2, retryAfterMs: 2_500 })
    const { lb, rejections } = setup([limit])
    const held = [lb.pick(), lb.pick()]
    const sync = overload(() => lb.pick())
    expect(sync).toMatchObject({
      code: 'FULCRUM_ERR_OVERLOAD',
      source: 'concurrency-limit',
      retryAfterMs: 2_500,
    })
    const err = await lb.acquireAsync({}, slot()).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'FULCRUM_ERR_OVERLOAD', reason: 'maxRequests', retryAfterMs: 2_500 })
    await expect(lb.execute({}, () => 'never')).rejects.toMatchObject({ reason: 'maxRequests' })
    expect(rejections).toEqual([
      { source: 'concurrency-limit', reason: 'maxRequests' },
      { source: 'concurrency-limit', reason: 'maxRequests' },
    ])
    expect(limit.stats()).toEqual({ held: 2, queued: 0, rejected: 2 })
    held[0]!.release()
    expect(lb.pick().backend!.id).toBe('a')
  })

  it('skips full backends; when all are full the pick is an overload, not NoBackendError', async () => {
    const limit = concurrencyLimit({ name: 'per-backend', maxRequestsPerBackend: 1 })
    const { lb, rejections } = setup([limit])
    expect([lb.pick(), lb.pick(), lb.pick()].map((l) => l.backend!.id)).toEqual(['a', 'b', 'c'])
    expect(overload(() => lb.pick()).source).toBe('per-backend')
    await expect(lb.acquireAsync({}, slot())).rejects.toMatchObject({ reason: 'maxRequestsPerBackend' })
    expect(rejections).toEqual([{ source: 'per-backend', reason: 'maxRequestsPerBackend' }])
  })

  it('also limits affinity hits (acquireBackend)', () => {
    const limit = concurrencyLimit({ maxRequests: 1 })
    const { lb } = setup([limit])
    lb.pick()
    expect(lb.acquireBackend(lb.get('b')!, {}, slot())).toBe(false)
  })
})

describe('concurrencyLimit: queue', () => {
  it('admits waiters FIFO as leases are released', async () => {
    const limit = concurrencyLimit({ maxRequests: 1, maxPending: 3 })
    const { lb } = setup([limit])
    const first = lb.pick()
    const waiters = [queued(lb), queued(lb), queued(lb)]
    await flush()
    expect(limit.stats()).toEqual({ held: 1, queued: 3, rejected: 0 })
    first.release()
    await flush()
    expect(waiters.map((w) => w.done)).toEqual([true, false, false])
    for (let i = 1; i < 3; i++) {
      lb.release(waiters[i - 1]!.slot)
      await flush()
      expect(waiters.map((w) => w.done)).toEqual([true, true, i === 2])
      expect(limit.stats().held).toBe(1)
    }
    expect(limit.stats().queued).toBe(0)
  })

  it('rejects at once with maxPending when the queue is full', async () => {
    const limit = concurrencyLimit({ maxRequests: 1, maxPending: 2, retryAfterMs: 3_000 })
    const { lb, rejections } = setup([limit])
    lb.pick()
    queued(lb)
    queued(lb)
    const third = queued(lb)
    await flush()
    expect(third.error).toMatchObject({
      code: 'FULCRUM_ERR_OVERLOAD',
      reason: 'maxPending',
      retryAfterMs: 3_000,
    })
    expect(rejections).toEqual([{ source: 'concurrency-limit', reason: 'maxPending' }])
    expect(limit.stats()).toEqual({ held: 1, queued: 2, rejected: 1 })
  })

  it('times out at exactly queuedAt + queueTimeoutMs on the clock', async () => {
    const limit = concurrencyLimit({ maxRequests: 1, maxPending: 5, queueTimeoutMs: 500 })
    const { lb, clock, rejections } = setup([limit])
    lb.pick()
    const w = queued(lb)
    await flush()
    clock.advance(499)
    await flush()
    expect(w.done).toBe(false)
    clock.advance(1)
    await flush()
    expect(w.error).toMatchObject({ reason: 'queueTimeout' })
    expect(rejections).toEqual([{ source: 'concurrency-limit', reason: 'queueTimeout' }])
    expect(limit.stats().queued).toBe(0)
    expect(sharedScheduler(clock).size).toBe(0)
  })

  it('leaves the queue on abort, with the signal’s reason', async () => {
    const limit = concurrencyLimit({ maxRequests: 1, maxPending: 5 })
    const { lb, clock, rejections } = setup([limit])
    const first = lb.pick()
    const ac = new AbortController()
    const w = queued(lb, ac.signal)
    const next = queued(lb)
    await flush()
    ac.abort(new Error('client gone'))
    await flush()
    expect((w.error as Error).message).toBe('client gone')
    expect(limit.stats().queued).toBe(1)
    expect(sharedScheduler(clock).size).toBe(1)
    first.release()
    await flush()
    expect(next.id).toBe('a')
    expect(rejections).toEqual([])
    const aborted = await lb.acquireAsync({}, slot(), undefined, AbortSignal.abort('early')).catch((e) => e)
    expect(aborted).toBe('early')
  })

  it('does not let new requests barge past queued ones', async () => {
    const limit = concurrencyLimit({ maxRequests: 10, maxRequestsPerBackend: 1, maxPending: 5 })
    const { lb } = setup([limit], ['a', 'b'])
    const held = [lb.pick(), lb.pick()]
    const w1 = queued(lb)
    await flush()
    expect(overload(() => lb.pick()).message).toMatch(/admission refused/)
    const w2 = queued(lb)
    await flush()
    lb.add(specs(['a', 'b', 'c'])[2]!) // capacity without a release: the first waiter gets it
    await flush()
    expect([w1.id, w2.done]).toEqual(['c', false])
    held[0]!.release()
    await flush()
    expect(w2.id).toBe('a')
  })

  it('makes execute() wait in the queue', async () => {
    const limit = concurrencyLimit({ maxRequests: 1, maxPending: 1 })
    const { lb } = setup([limit])
    let open!: () => void
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    const order: string[] = []
    const first = lb.execute({}, async (b) => {
      await gate
      order.push(`first:${b.id}`)
    })
    const second = lb.execute({}, (b) => {
      order.push(`second:${b.id}`)
    })
    await flush()
    expect(limit.stats()).toEqual({ held: 1, queued: 1, rejected: 0 })
    open()
    await Promise.all([first, second])
    expect(order).toEqual(['first:a', 'second:a'])
    expect(limit.stats()).toEqual({ held: 0, queued: 0, rejected: 0 })
  })

  it('close() rejects every waiter and cancels their timeouts', async () => {
    const limit = concurrencyLimit({ maxRequests: 1, maxPending: 5 })
    const { lb, clock } = setup([limit])
    lb.pick()
    const waiters = [queued(lb), queued(lb)]
    await flush()
    expect(sharedScheduler(clock).size).toBe(2)
    await lb.close()
    await flush()
    for (const w of waiters) expect(w.error).toBeInstanceOf(BalancerClosedError)
    expect(sharedScheduler(clock).size).toBe(0)
    expect(limit.stats().queued).toBe(0)
  })
})

describe('concurrencyLimit: options', () => {
  it('rejects bad options, naming the option', () => {
    const bad: [unknown, string][] = [
      [undefined, 'concurrencyLimit'],
      [{}, 'concurrencyLimit'],
      [{ maxPending: 5 }, 'concurrencyLimit'],
      [{ maxRequests: 0 }, 'concurrencyLimit.maxRequests'],
      [{ maxRequests: 1.5 }, 'concurrencyLimit.maxRequests'],
      [{ maxRequestsPerBackend: -1 }, 'concurrencyLimit.maxRequestsPerBackend'],
      [{ maxRequests: 1, maxPending: -1 }, 'concurrencyLimit.maxPending'],
      [{ maxRequests: 1, queueTimeoutMs: 0 }, 'concurrencyLimit.queueTimeoutMs'],
      [{ maxRequests: 1, retryAfterMs: -1 }, 'concurrencyLimit.retryAfterMs'],
      [{ maxRequests: 1, maxQueue: 1 }, 'concurrencyLimit.maxQueue'],
      [{ maxRequests: 1, name: '' }, 'concurrencyLimit.name'],
    ]
    for (const [options, path] of bad) {
      const err = (() => {
        try {
          concurrencyLimit(options as never)
        } catch (e) {
          return e
        }
      })()
      expect(err, path).toBeInstanceOf(InvalidOptionError)
      expect((err as InvalidOptionError).path).toBe(path)
    }
  })

  it('belongs to one balancer', () => {
    const limit = concurrencyLimit({ maxRequests: 1 })
    setup([limit])
    expect(() => setup([limit])).toThrow(/already attached/)
  })
})

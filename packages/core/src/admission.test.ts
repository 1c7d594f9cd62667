import { describe, expect, it } from 'vitest'
import type { Backend } from './backend.js'
import { createBalancer } from './builder.js'
import { NoBackendError, OverloadError } from './errors.js'
import type { LeaseSlot } from './lease.js'
import type { Plugin } from './plugin.js'

const urls = ['http://127.0.0.1:9001', 'http://127.0.0.1:9002']
const tick = (): Promise<void> => new Promise((r) => setImmediate(r))
const slot = (): LeaseSlot => ({ backend: undefined, startedAt: 0, held: false })

/** A limiter of `max` held picks with an unbounded FIFO queue: the shape `@fulcrum/breaker` implements. */
function limiter(max: number): Plugin & { held: number; waiting: number } {
  const queue: (() => void)[] = []
  const p = {
    name: 'limit',
    held: 0,
    get waiting() {
      return queue.length
    },
    admit: () => p.held < max,
    onAcquire: () => {
      p.held++
    },
    onRelease: () => {
      p.held--
      queue.shift()?.()
    },
    waitForCapacity: (_ctx: unknown, _queuedAt: number, signal?: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        queue.push(resolve)
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true })
      }),
  }
  return p
}

describe('admission hooks', () => {
  it('admit() false fails the pick with OverloadError naming the plugin; nothing is held', () => {
    const lb = createBalancer()
      .backends(urls)
      .use({ name: 'gate', admit: () => false })
      .build()
    const s = slot()
    let err: unknown
    try {
      lb.acquire({}, s)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(OverloadError)
    expect((err as OverloadError).code).toBe('FULCRUM_ERR_OVERLOAD')
    expect((err as OverloadError).source).toBe('gate')
    expect(s.held).toBe(false)
    expect(lb.backends().every((b) => b.inflight === 0)).toBe(true)
  })

  it('vetoes of every candidate by an overload plugin fail with OverloadError, by others with NoBackendError', () => {
    const full = createBalancer()
      .backends(urls)
      .use({ name: 'per-backend', overload: true, accept: () => false })
      .build()
    expect(() => full.pick()).toThrow(OverloadError)
    const open = createBalancer()
      .backends(urls)
      .use({ name: 'breaker', accept: () => false })
      .build()
    expect(() => open.pick()).toThrow(NoBackendError)
  })

  it('an overload veto of one backend moves the pick to the other', () => {
    let first: Backend | undefined
    const lb = createBalancer()
      .backends(urls)
      .use({ name: 'cap', overload: true, accept: (b) => b !== first })
      .build()
    first = lb.backends()[0]
    for (let i = 0; i < 20; i++) {
      const lease = lb.pick()
      expect(lease.backend).toBe(lb.backends()[1])
      lease.release()
    }
  })

  it('acquireAsync() waits in the plugin queue and picks when capacity frees', async () => {
    const limit = limiter(1)
    const lb = createBalancer().backends(urls).use(limit).build()
    expect(lb.queues).toBe(true)
    const a = slot()
    await lb.acquireAsync({}, a)
    const b = slot()
    let done = false
    const pending = lb.acquireAsync({}, b).then(() => {
      done = true
    })
    await Promise.resolve()
    expect(done).toBe(false)
    expect(limit.waiting).toBe(1)
    lb.release(a)
    await pending
    expect(b.held).toBe(true)
    expect(limit.held).toBe(1)
    lb.release(b)
  })

  it('acquireAsync() rejects with the signal reason on abort', async () => {
    const lb = createBalancer().backends(urls).use(limiter(0)).build()
    const ac = new AbortController()
    const pending = lb.acquireAsync({}, slot(), undefined, ac.signal)
    ac.abort(new Error('client left'))
    await expect(pending).rejects.toThrow('client left')
  })

  it('execute() queues when a plugin queues', async () => {
    const limit = limiter(1)
    const lb = createBalancer().backends(urls).use(limit).build()
    let release!: () => void
    const first = lb.execute({}, () => new Promise<string>((r) => (release = () => r('one'))))
    await tick()
    const second = lb.execute({}, () => 'two')
    await tick()
    expect(limit.waiting).toBe(1)
    release()
    expect(await first).toBe('one')
    expect(await second).toBe('two')
    expect(limit.held).toBe(0)
  })

  it("execute()'s overall deadline bounds the time spent queued", async () => {
    const lb = createBalancer().backends(urls).use(limiter(0)).retry({ retries: 0, timeoutMs: 20 }).build()
    await expect(lb.execute({}, () => 'never')).rejects.toMatchObject({ code: 'FULCRUM_ERR_TIMEOUT' })
  })

  it('acquireBackend() (affinity) honours admit()', () => {
    const lb = createBalancer()
      .backends(urls)
      .use({ name: 'gate', admit: () => false })
      .build()
    const s = slot()
    expect(lb.acquireBackend(lb.backends()[0]!, {}, s)).toBe(false)
    expect(s.held).toBe(false)
  })

  it('uses the plugin retryAfterMs on OverloadError', () => {
    const lb = createBalancer()
      .backends(urls)
      .use({ name: 'gate', admit: () => false, retryAfterMs: 2_500 })
      .build()
    expect(() => lb.pick()).toThrow(expect.objectContaining({ retryAfterMs: 2_500 }))
  })

  it('without a queueing plugin acquireAsync() is acquire()', async () => {
    const lb = createBalancer().backends(urls).build()
    expect(lb.queues).toBe(false)
    const s = slot()
    await expect(lb.acquireAsync({}, s)).resolves.toBe(s.backend)
  })
})

import { describe, expect, it } from 'vitest'
import type { Backend } from './backend.js'
import { createBalancer } from './builder.js'
import { DeadlineExceededError, NoBackendError } from './errors.js'
import type { RequestRetryEvent } from './events.js'

const urls = [
  'http://127.0.0.1:9001',
  'http://127.0.0.1:9002',
  'http://127.0.0.1:9003',
  'http://127.0.0.1:9004',
]
const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
const fast = { backoff: { baseMs: 0, maxMs: 0 } }

describe('Balancer.execute', () => {
  it('retries on backends not yet tried and makes exactly 1 + retries attempts', async () => {
    const lb = createBalancer()
      .backends(urls)
      .retry({ retries: 2, ...fast })
      .build()
    for (let run = 0; run < 50; run++) {
      const seen: Backend[] = []
      await expect(
        lb.execute({}, (b) => {
          seen.push(b)
          throw refused()
        }),
      ).rejects.toMatchObject({ code: 'ECONNREFUSED' })
      expect(seen).toHaveLength(3)
      expect(new Set(seen).size).toBe(3)
    }
    for (const b of lb.backends()) expect(b.inflight).toBe(0)
  })

  it('returns the first success and books outcomes per backend', async () => {
    const lb = createBalancer()
      .backends(urls)
      .retry({ retries: 3, ...fast })
      .build()
    let calls = 0
    const result = await lb.execute({}, (b) => {
      calls++
      if (calls < 3) throw refused()
      return b.id
    })
    expect(calls).toBe(3)
    const winner = lb.get(result)!
    expect(winner.counters.successes).toBe(1)
    const failures = lb.backends().reduce((n, b) => n + b.counters.failures, 0)
    expect(failures).toBe(2)
    expect(lb.backends().find((b) => b.counters.failures > 0)!.counters.lastFailure).toBe('connect')
  })

  it('ends with the last error when it runs out of untried backends', async () => {
    const lb = createBalancer()
      .backends(urls.slice(0, 2))
      .retry({ retries: 5, ...fast })
      .build()
    let calls = 0
    await expect(
      lb.execute({}, () => {
        calls++
        throw refused()
      }),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    expect(calls).toBe(2)
  })

  it('throws NoBackendError when nothing can be picked', async () => {
    const lb = createBalancer().retry().build()
    await expect(lb.execute({}, () => 1)).rejects.toBeInstanceOf(NoBackendError)
  })

  it('does not retry errors marked retryable: false, nor what retryOn refuses', async () => {
    const lb = createBalancer()
      .backends(urls)
      .retry({ retries: 3, ...fast })
      .build()
    let calls = 0
    await expect(
      lb.execute({}, () => {
        calls++
        throw Object.assign(new Error('bad request'), { retryable: false })
      }),
    ).rejects.toThrow('bad request')
    expect(calls).toBe(1)
    const picky = createBalancer()
      .backends(urls)
      .retry({ retries: 3, ...fast, retryOn: (err) => (err as { code?: string }).code === 'ECONNREFUSED' })
      .build()
    calls = 0
    await expect(
      picky.execute({}, () => {
        calls++
        throw calls === 1 ? refused() : new Error('other')
      }),
    ).rejects.toThrow('other')
    expect(calls).toBe(2)
  })

  it('classify() turns results into retryable failures and returns the last result', async () => {
    const lb = createBalancer()
      .backends(urls)
      .retry({ retries: 1, ...fast, classify: (r) => ({ ok: (r as number) < 500, status: r as number }) })
      .build()
    let calls = 0
    const status = await lb.execute({}, () => {
      calls++
      return 503
    })
    expect(status).toBe(503)
    expect(calls).toBe(2)
  })

  it('caps retries with the budget (percent of requests + reserve)', async () => {
    const lb = createBalancer()
      .backends(urls)
      .retry({ retries: 3, ...fast, budget: { percent: 0.2, minPerSecond: 0, ttlMs: 10_000 } })
      .build()
    let denied = 0
    let retries = 0
    lb.on('request:retry-denied', () => denied++)
    lb.on('request:retry', () => retries++)
    for (let i = 0; i < 100; i++) await lb.execute({}, () => Promise.reject(refused())).catch(() => {})
    // 100 requests deposit 100 tokens; a retry costs 5: at most 20 retries.
    expect(retries).toBeLessThanOrEqual(20)
    expect(retries).toBeGreaterThanOrEqual(19)
    expect(denied).toBeGreaterThan(0)
  })

  it('holds one overall deadline over all attempts and backoffs', async () => {
    const lb = createBalancer()
      .backends(urls)
      .retry({ retries: 3, timeoutMs: 40, backoff: { baseMs: 1, maxMs: 1 } })
      .build()
    const started = performance.now()
    const err = await lb
      .execute(
        {},
        (_b, signal) =>
          new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      )
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DeadlineExceededError)
    expect((err as DeadlineExceededError).code).toBe('FULCRUM_ERR_TIMEOUT')
    expect(performance.now() - started).toBeLessThan(1_000)
    for (const b of lb.backends()) expect(b.inflight).toBe(0)
  })

  it('a per-try timeout is retried on another backend', async () => {
    const lb = createBalancer()
      .backends(urls)
      .retry({ retries: 1, perTryTimeoutMs: 20, ...fast })
      .build()
    let calls = 0
    const result = await lb.execute({}, () => {
      calls++
      return calls === 1 ? new Promise<string>(() => {}) : 'second'
    })
    expect(result).toBe('second')
    const timeouts = lb.backends().filter((b) => b.counters.lastFailure === 'timeout')
    expect(timeouts).toHaveLength(1)
  })

  it('stops at once when the caller aborts, releasing the attempt as cancelled', async () => {
    const lb = createBalancer()
      .backends(urls)
      .retry({ retries: 3, ...fast })
      .build()
    const ac = new AbortController()
    let calls = 0
    const p = lb.execute(
      {},
      () => {
        calls++
        setTimeout(() => ac.abort(new Error('client gone')), 5)
        return new Promise(() => {})
      },
      { signal: ac.signal },
    )
    await expect(p).rejects.toThrow('client gone')
    expect(calls).toBe(1)
    const b = lb.backends().find((x) => x.counters.cancelled === 1)!
    expect(b.counters.failures).toBe(0)
    expect(b.inflight).toBe(0)
  })

  it('honours retryAfterMs up to the cap and emits request:retry', async () => {
    const lb = createBalancer()
      .backends(urls)
      .retry({ retries: 1, ...fast, retryAfterMaxMs: 30 })
      .build()
    const events: RequestRetryEvent[] = []
    lb.on('request:retry', (e) => events.push(e))
    let calls = 0
    const started = performance.now()
    await lb.execute({}, () => {
      if (calls++ === 0) throw Object.assign(new Error('busy'), { retryAfterMs: 5_000 })
      return 'ok'
    })
    expect(events).toHaveLength(1)
    expect(events[0]!.delayMs).toBe(30)
    expect(events[0]!.retry).toBe(1)
    expect(performance.now() - started).toBeGreaterThanOrEqual(25)
  })

  it('runs plugin wraps around each attempt, first plugin outermost', async () => {
    const order: string[] = []
    const lb = createBalancer()
      .backends(urls)
      .use({
        name: 'outer',
        wrap: (next) => async (b, s, i) => {
          order.push('outer')
          return next(b, s, i)
        },
      })
      .use({
        name: 'inner',
        wrap: (next) => async (b, s, i) => {
          order.push('inner')
          return next(b, s, i)
        },
      })
      .build()
    await lb.execute({}, () => order.push('call'))
    expect(order).toEqual(['outer', 'inner', 'call'])
  })
})

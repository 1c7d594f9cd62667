import { describe, expect, it } from 'vitest'
import { createBalancer } from './builder.js'
import { InvalidOptionError, isFulcrumError } from './errors.js'
import type { Strategy } from './strategy.js'

function rejects(fn: () => unknown, path: string): void {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidOptionError)
    expect(isFulcrumError(err)).toBe(true)
    expect((err as InvalidOptionError).code).toBe('FULCRUM_ERR_INVALID_OPTION')
    expect((err as InvalidOptionError).path).toBe(path)
    expect((err as Error).message).toContain(path)
    return
  }
  throw new Error(`expected InvalidOptionError at ${path}`)
}

const ok = 'http://127.0.0.1:9001'

describe('createBalancer() builder', () => {
  it('is immutable: every call returns a new builder and forks do not leak', () => {
    const base = createBalancer().backends([ok])
    const withRetry = base.retry({ retries: 3 })
    expect(withRetry).not.toBe(base)
    expect(base.build().retryPolicy.retries).toBe(0)
    expect(withRetry.build().retryPolicy.retries).toBe(3)
    const a = base.use({ name: 'a' })
    const b = base.use({ name: 'b' })
    expect(a).not.toBe(b)
  })

  it('defaults to p2c and no retries', () => {
    const lb = createBalancer().backends([ok]).build()
    expect(lb.snapshot().strategy).toBe('p2c')
    expect(lb.retryPolicy.retries).toBe(0)
    expect(lb.retryPolicy.budget).not.toBeNull()
  })

  it('accepts URL, host:port, IPv6 and object backends', () => {
    const lb = createBalancer()
      .backends([
        'http://127.0.0.1:9001',
        '127.0.0.1:9002',
        '[::1]:9003',
        { host: '::1', port: 9004, weight: 2, zone: 'b' },
      ])
      .build()
    const [a, b, c, d] = lb.backends()
    expect(a!.id).toBe('http://127.0.0.1:9001')
    expect(a!.port).toBe(9001)
    expect(b!.id).toBe('127.0.0.1:9002')
    expect(c!.host).toBe('::1')
    expect(c!.address).toBe('[::1]:9003')
    expect(d!.weight).toBe(2)
    expect(d!.zone).toBe('b')
    expect(createBalancer().backends(['https://example.test']).build().backends()[0]!.port).toBe(443)
  })

  it('rejects every bad backend with the option path', () => {
    rejects(
      () =>
        createBalancer()
          .backends('x' as never)
          .build(),
      'backends',
    )
    rejects(() => createBalancer().backends(['not a url']).build(), 'backends[0]')
    rejects(() => createBalancer().backends([ok, 'http://[bad']).build(), 'backends[1]')
    rejects(() => createBalancer().backends(['127.0.0.1:0']).build(), 'backends[0]')
    rejects(() => createBalancer().backends(['127.0.0.1:70000']).build(), 'backends[0]')
    rejects(() => createBalancer().backends(['ftp://host']).build(), 'backends[0]')
    rejects(() => createBalancer().backends(['http://u:p@host:1']).build(), 'backends[0]')
    rejects(() => createBalancer().backends(['http://host:1/?q=1']).build(), 'backends[0]')
    rejects(
      () =>
        createBalancer()
          .backends([{ url: ok, weight: -1 }])
          .build(),
      'backends[0].weight',
    )
    rejects(
      () =>
        createBalancer()
          .backends([{ url: ok, weight: Number.NaN }])
          .build(),
      'backends[0].weight',
    )
    rejects(
      () =>
        createBalancer()
          .backends([{ url: ok, weight: Number.POSITIVE_INFINITY }])
          .build(),
      'backends[0].weight',
    )
    rejects(
      () =>
        createBalancer()
          .backends([{ url: ok, weight: '2' as never }])
          .build(),
      'backends[0].weight',
    )
    rejects(
      () =>
        createBalancer()
          .backends([{ host: 'h' }])
          .build(),
      'backends[0].port',
    )
    rejects(
      () =>
        createBalancer()
          .backends([{ host: 'h', port: 1.5 }])
          .build(),
      'backends[0].port',
    )
    rejects(
      () =>
        createBalancer()
          .backends([{ host: 'a/b', port: 1 }])
          .build(),
      'backends[0].host',
    )
    rejects(
      () =>
        createBalancer()
          .backends([{ url: ok, host: 'h' }])
          .build(),
      'backends[0].host',
    )
    rejects(
      () =>
        createBalancer()
          .backends([{ port: 1 }])
          .build(),
      'backends[0]',
    )
    rejects(
      () =>
        createBalancer()
          .backends([{ url: ok, id: '' }])
          .build(),
      'backends[0].id',
    )
    rejects(
      () =>
        createBalancer()
          .backends([{ url: ok, admin: 'off' as never }])
          .build(),
      'backends[0].admin',
    )
    rejects(
      () =>
        createBalancer()
          .backends([{ url: ok, meta: 3 as never }])
          .build(),
      'backends[0].meta',
    )
    rejects(
      () =>
        createBalancer()
          .backends([{ url: ok, zone: 3 as never }])
          .build(),
      'backends[0].zone',
    )
    rejects(
      () =>
        createBalancer()
          .backends([{ url: ok, wieght: 2 } as never])
          .build(),
      'backends[0].wieght',
    )
    rejects(() => createBalancer().backends([ok, ok]).build(), 'backends[1]')
    rejects(
      () =>
        createBalancer()
          .backends([42 as never])
          .build(),
      'backends[0]',
    )
  })

  it('rejects a bad strategy, health check, plugin, observer, clock and random', () => {
    rejects(
      () =>
        createBalancer()
          .strategy({} as Strategy)
          .build(),
      'strategy.name',
    )
    rejects(
      () =>
        createBalancer()
          .strategy({ name: 'x' } as Strategy)
          .build(),
      'strategy.build',
    )
    rejects(
      () =>
        createBalancer()
          .strategy(null as never)
          .build(),
      'strategy',
    )
    rejects(
      () =>
        createBalancer()
          .health({ name: 'h' } as never)
          .build(),
      'health[0].start',
    )
    rejects(
      () =>
        createBalancer()
          .use({ name: 'p', accept: 1 } as never)
          .build(),
      'use[0].accept',
    )
    rejects(
      () =>
        createBalancer()
          .use({ name: 'p' })
          .use({} as never)
          .build(),
      'use[1].name',
    )
    rejects(
      () =>
        createBalancer()
          .observe({ counter() {} } as never)
          .build(),
      'observe[0].gauge',
    )
    rejects(
      () =>
        createBalancer()
          .clock({ now: () => 0 } as never)
          .build(),
      'clock.setTimer',
    )
    rejects(
      () =>
        createBalancer()
          .random({} as never)
          .build(),
      'random.next',
    )
  })

  it('rejects bad retry options', () => {
    rejects(() => createBalancer().retry({ retries: -1 }).build(), 'retry.retries')
    rejects(() => createBalancer().retry({ retries: 1.5 }).build(), 'retry.retries')
    rejects(() => createBalancer().retry({ retries: 101 }).build(), 'retry.retries')
    rejects(
      () =>
        createBalancer()
          .retry({ backoff: { baseMs: -1 } })
          .build(),
      'retry.backoff.baseMs',
    )
    rejects(
      () =>
        createBalancer()
          .retry({ backoff: { baseMs: 100, maxMs: 10 } })
          .build(),
      'retry.backoff.maxMs',
    )
    rejects(
      () =>
        createBalancer()
          .retry({ backoff: { base: 1 } as never })
          .build(),
      'retry.backoff.base',
    )
    rejects(
      () =>
        createBalancer()
          .retry({ budget: { percent: 2 } })
          .build(),
      'retry.budget.percent',
    )
    rejects(
      () =>
        createBalancer()
          .retry({ budget: { ttlMs: 10 } })
          .build(),
      'retry.budget.ttlMs',
    )
    rejects(
      () =>
        createBalancer()
          .retry({ budget: { minPerSecond: -1 } })
          .build(),
      'retry.budget.minPerSecond',
    )
    rejects(() => createBalancer().retry({ timeoutMs: 0 }).build(), 'retry.timeoutMs')
    rejects(() => createBalancer().retry({ perTryTimeoutMs: -5 }).build(), 'retry.perTryTimeoutMs')
    rejects(() => createBalancer().retry({ retryAfterMaxMs: Number.NaN }).build(), 'retry.retryAfterMaxMs')
    rejects(
      () =>
        createBalancer()
          .retry({ retryOn: true as never })
          .build(),
      'retry.retryOn',
    )
    rejects(
      () =>
        createBalancer()
          .retry({ classify: 'x' as never })
          .build(),
      'retry.classify',
    )
    rejects(
      () =>
        createBalancer()
          .retry({ attempts: 2 } as never)
          .build(),
      'retry.attempts',
    )
  })

  it('rejects bad balancer options', () => {
    rejects(() => createBalancer({ name: '' }).build(), 'name')
    rejects(() => createBalancer({ latencyDecayMs: 0 }).build(), 'latencyDecayMs')
    rejects(() => createBalancer({ panicThreshold: 1.5 }).build(), 'panicThreshold')
    rejects(() => createBalancer({ nmae: 'x' } as never).build(), 'nmae')
  })

  it('validates runtime changes too', () => {
    const lb = createBalancer().backends([ok]).build()
    rejects(() => lb.setWeight(ok, -2), 'weight')
    rejects(() => lb.add({ url: ok, weight: -1 }), 'backend.weight')
    expect(() => lb.add(ok)).toThrow(/already in the pool/)
    expect(() => lb.drain('nope')).toThrow(/Unknown backend/)
  })
})

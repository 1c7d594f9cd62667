import { createBalancer, InvalidOptionError } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { uniform } from './distributions.js'
import { resolveOptions } from './resolve-options.js'
import type { SimulateOptions } from './simulate-options.js'

const base: SimulateOptions = {
  balancer: createBalancer(),
  backends: [{ id: 'a' }, { id: 'b' }],
  load: { rps: 10 },
  durationMs: 1_000,
}

/** The option path of the `InvalidOptionError` thrown for `patch`. */
function pathOf(patch: Record<string, unknown>): string | undefined {
  try {
    resolveOptions({ ...base, ...patch } as SimulateOptions)
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidOptionError)
    expect((err as InvalidOptionError).code).toBe('FULCRUM_ERR_INVALID_OPTION')
    return (err as InvalidOptionError).path
  }
  return undefined
}

describe('resolveOptions()', () => {
  it('accepts good options and fills defaults', () => {
    const o = resolveOptions({
      ...base,
      backends: [
        { id: 'a', latency: uniform(1, 2) },
        { id: 'b', joinAt: 5 },
      ],
    })
    expect(o.seed).toBe(0)
    expect(o.timelineMs).toBe(1_000)
    expect(o.maxRequests).toBe(1_000_000)
    expect(o.load).toEqual({ rps: 10, concurrency: 0 })
    expect(o.backends[0]!.init).toEqual({ id: 'a', host: '127.0.0.1', port: 20_001 })
    expect(o.backends[1]!.init.port).toBe(20_002)
    expect(o.backends[1]!.joinAt).toBe(5)
    expect(o.backends[1]!.leaveAt).toBe(Number.POSITIVE_INFINITY)
    expect(o.backends[0]!.latency.sample({ next: () => 0.5 })).toBe(1.5)
    expect(o.backends[1]!.latency.sample({ next: () => 0.5 })).toBe(10)
    expect(o.context).toBeUndefined()
    const withKey = resolveOptions({ ...base, key: (i) => `k${i}` })
    expect(withKey.context!(3, undefined as never)).toEqual({ key: 'k3' })
  })

  it('sorts events by time, keeping declaration order for equal times', () => {
    const o = resolveOptions({
      ...base,
      backends: [
        {
          id: 'a',
          events: [
            { at: 50, die: true },
            { at: 10, slow: 2 },
            { at: 50, recover: true },
          ],
        },
      ],
    })
    expect(o.backends[0]!.events).toEqual([
      { at: 10, slow: 2 },
      { at: 50, die: true },
      { at: 50, recover: true },
    ])
  })

  it('names the bad option', () => {
    expect(pathOf({ balancer: {} })).toBe('balancer')
    expect(pathOf({ balancer: createBalancer().build() })).toBe('balancer')
    expect(pathOf({ surprise: 1 })).toBe('surprise')
    expect(pathOf({ backends: 'a' })).toBe('backends')
    expect(pathOf({ backends: [] })).toBe('backends')
    expect(pathOf({ backends: [{ id: 'a' }, 'b'] })).toBe('backends[1]')
    expect(pathOf({ backends: [{ id: '' }] })).toBe('backends[0].id')
    expect(pathOf({ backends: [{ id: 'a' }, { id: 'a' }] })).toBe('backends[1].id')
    expect(pathOf({ backends: [{ id: 'a' }, { id: 'b', latency: 'slow' }] })).toBe('backends[1].latency')
    expect(pathOf({ backends: [{ id: 'a', latency: -1 }] })).toBe('backends[0].latency')
    expect(pathOf({ backends: [{ id: 'a', errorRate: 2 }] })).toBe('backends[0].errorRate')
    expect(pathOf({ backends: [{ id: 'a', port: 1 }] })).toBe('backends[0].port')
    expect(pathOf({ backends: [{ id: 'a', joinAt: -1 }] })).toBe('backends[0].joinAt')
    expect(pathOf({ backends: [{ id: 'a', joinAt: 10, leaveAt: 10 }] })).toBe('backends[0].leaveAt')
    expect(pathOf({ backends: [{ id: 'a', weight: -1 }] })).toBe('backends[0].weight')
    expect(pathOf({ backends: [{ id: 'a', zone: 3 }] })).toBe('backends[0].zone')
    expect(pathOf({ backends: [{ id: 'a', meta: 'x' }] })).toBe('backends[0].meta')
    expect(pathOf({ backends: [{ id: 'a', events: {} }] })).toBe('backends[0].events')
    expect(pathOf({ backends: [{ id: 'a', events: [{ at: 1 }] }] })).toBe('backends[0].events[0]')
    expect(pathOf({ backends: [{ id: 'a', events: [{ at: -1, die: true }] }] })).toBe(
      'backends[0].events[0].at',
    )
    expect(pathOf({ backends: [{ id: 'a', events: [{ at: 1, slow: 0 }] }] })).toBe(
      'backends[0].events[0].slow',
    )
    expect(pathOf({ backends: [{ id: 'a', events: [{ at: 1, die: false }] }] })).toBe(
      'backends[0].events[0].die',
    )
    expect(pathOf({ backends: [{ id: 'a', events: [{ at: 1, die: true, recover: true }] }] })).toBe(
      'backends[0].events[0]',
    )
    expect(pathOf({ backends: [{ id: 'a', events: [{ at: 1, kill: true }] }] })).toBe(
      'backends[0].events[0].kill',
    )
    expect(pathOf({ load: undefined })).toBe('load')
    expect(pathOf({ load: {} })).toBe('load')
    expect(pathOf({ load: { rps: 1, concurrency: 1 } })).toBe('load')
    expect(pathOf({ load: { rps: 0 } })).toBe('load.rps')
    expect(pathOf({ load: { rps: 1e9 } })).toBe('load.rps') // more than maxRequests
    expect(pathOf({ load: { concurrency: 1.5 } })).toBe('load.concurrency')
    expect(pathOf({ load: { qps: 1 } })).toBe('load.qps')
    expect(pathOf({ durationMs: 0 })).toBe('durationMs')
    expect(pathOf({ durationMs: Number.POSITIVE_INFINITY })).toBe('durationMs')
    expect(pathOf({ seed: Number.NaN })).toBe('seed')
    expect(pathOf({ key: 'tenant' })).toBe('key')
    expect(pathOf({ context: 1 })).toBe('context')
    expect(pathOf({ key: () => 'k', context: () => ({}) })).toBe('context')
    expect(pathOf({ timelineMs: 0 })).toBe('timelineMs')
    expect(pathOf({ timelineMs: 0.001 })).toBe('timelineMs') // too many buckets
    expect(pathOf({ actions: [{ at: 1 }] })).toBe('actions[0].run')
    expect(pathOf({ actions: [{ at: -1, run: () => {} }] })).toBe('actions[0].at')
    expect(pathOf({ maxRequests: 0 })).toBe('maxRequests')
    expect(() => resolveOptions(null as never)).toThrow(InvalidOptionError)
  })
})

import { classifyError } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { constant, type Distribution } from './distributions.js'
import { seededRandom } from './seeded-random.js'
import { SimulatedBackend } from './simulated-backend.js'
import { VirtualClock } from './virtual-clock.js'

function setup(latency: Distribution = constant(10), errorRate = 0) {
  const clock = new VirtualClock()
  const backend = new SimulatedBackend({
    id: 'x',
    path: 'backends[0].latency',
    latency,
    errorRate,
    clock,
    random: seededRandom(1),
  })
  return { clock, backend }
}

/** Settles `p` into a result string, stamped with the virtual time. */
function track(p: Promise<string>, clock: VirtualClock): { result: string | undefined } {
  const box: { result: string | undefined } = { result: undefined }
  p.then(
    (v) => {
      box.result = `ok:${v}@${clock.now()}`
    },
    (e: unknown) => {
      box.result = `${classifyError(e)}:${(e as { code?: string }).code}@${clock.now()}`
    },
  )
  return box
}

describe('SimulatedBackend', () => {
  it('answers after the sampled latency', async () => {
    const { clock, backend } = setup()
    const r = track(backend.call(new AbortController().signal), clock)
    expect(backend.inflight).toBe(1)
    await clock.advanceAsync(9)
    expect(r.result).toBeUndefined()
    await clock.advanceAsync(1)
    expect(r.result).toBe('ok:x@10')
    expect(backend.inflight).toBe(0)
  })

  it('multiplies latency by slow, fails at the error rate with ECONNRESET', async () => {
    const { clock, backend } = setup(constant(10), 1)
    backend.apply({ at: 0, slow: 3 })
    const r = track(backend.call(new AbortController().signal), clock)
    await clock.advanceAsync(100)
    expect(r.result).toBe('reset:ECONNRESET@30')
    backend.apply({ at: 0, errorRate: 0, slow: 1 })
    const ok = track(backend.call(new AbortController().signal), clock)
    await clock.advanceAsync(100)
    expect(ok.result).toBe('ok:x@110')
  })

  it('dies: in-flight attempts reset at once, new ones are refused after 1 ms; recovers', async () => {
    const { clock, backend } = setup()
    const inflight = track(backend.call(new AbortController().signal), clock)
    await clock.advanceAsync(4)
    backend.apply({ at: 4, die: true })
    expect(backend.alive).toBe(false)
    await clock.advanceAsync(0)
    expect(inflight.result).toBe('reset:ECONNRESET@4')
    const refused = track(backend.call(new AbortController().signal), clock)
    await clock.advanceAsync(5)
    expect(refused.result).toBe('connect:ECONNREFUSED@5')
    backend.apply({ at: 9, recover: true })
    const ok = track(backend.call(new AbortController().signal), clock)
    await clock.advanceAsync(10)
    expect(ok.result).toBe('ok:x@19')
    expect(clock.pendingTimers).toBe(0)
  })

  it('rejects with the abort reason as soon as the signal aborts, and clears its timer', async () => {
    const { clock, backend } = setup(constant(1_000))
    const ac = new AbortController()
    const r = track(backend.call(ac.signal), clock)
    await clock.advanceAsync(50)
    ac.abort(Object.assign(new Error('per-try'), { code: 'FULCRUM_ERR_ATTEMPT_TIMEOUT' }))
    await clock.advanceAsync(0)
    expect(r.result).toBe('timeout:FULCRUM_ERR_ATTEMPT_TIMEOUT@50')
    expect(clock.pendingTimers).toBe(0)
    expect(backend.inflight).toBe(0)
    const already = track(backend.call(ac.signal), clock)
    await clock.advanceAsync(0)
    expect(already.result).toBe('timeout:FULCRUM_ERR_ATTEMPT_TIMEOUT@50')
  })

  it('throws InvalidOptionError naming the latency option on a bad sample', () => {
    const { backend } = setup({ sample: () => -1 })
    expect(() => backend.call(new AbortController().signal)).toThrow(/backends\[0\]\.latency/)
  })
})

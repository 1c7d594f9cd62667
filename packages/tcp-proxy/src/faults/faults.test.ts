/**
 * Unit tests of the fault registry, the hooks and the fault stream, on a virtual clock (no sockets:
 * see loopback.test.ts for the measurements over real connections).
 */
import type { Duplex } from 'node:stream'
import { type Backend, createBalancer, InvalidOptionError } from '@fulcrum/core'
import { VirtualClock } from '@fulcrum/testing'
import { describe, expect, it } from 'vitest'
import { bandwidth } from './bandwidth.js'
import { blackhole } from './blackhole.js'
import { isFaultReset } from './fault-reset-error.js'
import { Faults } from './faults.js'
import { latency } from './latency.js'
import { resetAfter } from './reset-after.js'
import { slowClose } from './slow-close.js'
import type { Toxic } from './toxic.js'

const lb = createBalancer()
  .backends([
    { id: 'a', host: '127.0.0.1', port: 9001 },
    { id: 'b', host: '127.0.0.1', port: 9002 },
  ])
  .build()
const A: Backend = lb.get('a')!
const B: Backend = lb.get('b')!

const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Collects what a stream emits, with the virtual time of each chunk. */
function collect(stream: Duplex, clock: VirtualClock) {
  const got = { bytes: 0, text: '', chunks: [] as { at: number; n: number }[], error: undefined as unknown }
  stream.on('data', (c: Buffer) => {
    got.bytes += c.length
    got.text += c.toString('latin1')
    got.chunks.push({ at: clock.now(), n: c.length })
  })
  stream.on('error', (err) => {
    got.error = err
  })
  return got
}

function invalidPath(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof InvalidOptionError) return err.path
    throw err
  }
  return undefined
}

describe('toxic factories', () => {
  it('validate their options with paths under faults.*', () => {
    expect(invalidPath(() => latency({ ms: -1 }))).toBe('faults.latency.ms')
    expect(invalidPath(() => latency({} as never))).toBe('faults.latency.ms')
    expect(invalidPath(() => latency({ ms: 1, jitterMs: Number.NaN }))).toBe('faults.latency.jitterMs')
    expect(invalidPath(() => latency({ ms: 1, jiter: 2 } as never))).toBe('faults.latency.jiter')
    expect(invalidPath(() => bandwidth({ bytesPerSecond: 0 }))).toBe('faults.bandwidth.bytesPerSecond')
    expect(invalidPath(() => bandwidth({ bytesPerSecond: 1e6, burstBytes: 0.5 }))).toBe(
      'faults.bandwidth.burstBytes',
    )
    expect(invalidPath(() => resetAfter({ bytes: 1.5 }))).toBe('faults.resetAfter.bytes')
    expect(invalidPath(() => slowClose({ ms: Number.POSITIVE_INFINITY }))).toBe('faults.slowClose.ms')
    expect(invalidPath(() => blackhole({ x: 1 } as never))).toBe('faults.blackhole.x')
    expect(invalidPath(() => new Faults({ clock: {} as never }))).toBe('faults.clock.now')
    expect(invalidPath(() => new Faults({ maxBufferBytes: 0 }))).toBe('faults.maxBufferBytes')
    expect(invalidPath(() => new Faults({ wrapAlways: 1 as never }))).toBe('faults.wrapAlways')
    expect(invalidPath(() => new Faults({ clok: 1 } as never))).toBe('faults.clok')
  })

  it('return frozen, complete values with documented defaults', () => {
    expect(latency({ ms: 5 })).toEqual({ kind: 'latency', ms: 5, jitterMs: 0 })
    expect(bandwidth({ bytesPerSecond: 512 * 1024 })).toEqual({
      kind: 'bandwidth',
      bytesPerSecond: 512 * 1024,
      burstBytes: 16 * 1024,
    })
    expect(bandwidth({ bytesPerSecond: 1000 }).burstBytes).toBe(50)
    expect(bandwidth({ bytesPerSecond: 3 }).burstBytes).toBe(1)
    expect(Object.isFrozen(resetAfter({ bytes: 0 }))).toBe(true)
  })
})

describe('Faults registry', () => {
  it('adds, lists, replaces by name, removes and clears', () => {
    const faults = new Faults()
    const id1 = faults.add(latency({ ms: 10 }))
    const id2 = faults.add(bandwidth({ bytesPerSecond: 100 }), { backend: 'a', direction: 'upstream' })
    expect([id1, id2]).toEqual(['latency-1', 'bandwidth-2'])
    expect(faults.add(slowClose({ ms: 1 }), { name: 'close' })).toBe('close')
    expect(faults.add(slowClose({ ms: 2 }), { name: 'close' })).toBe('close')
    expect(faults.list().map((e) => [e.id, e.toxic.kind, e.backend, e.direction])).toEqual([
      ['latency-1', 'latency', undefined, 'both'],
      ['bandwidth-2', 'bandwidth', 'a', 'upstream'],
      ['close', 'slowClose', undefined, 'both'],
    ])
    expect(faults.closeDelayMs('upstream', A)).toBe(2)
    expect(faults.remove(id1)).toBe(true)
    expect(faults.remove(id1)).toBe(false)
    expect(faults.list()).toHaveLength(2)
    faults.clear()
    expect(faults.list()).toEqual([])
  })

  it('validates add() and re-checks hand-written toxics', () => {
    const faults = new Faults()
    expect(invalidPath(() => faults.add(latency({ ms: 1 }), { direction: 'up' as never }))).toBe(
      'faults.add.direction',
    )
    expect(invalidPath(() => faults.add(latency({ ms: 1 }), { backend: '' }))).toBe('faults.add.backend')
    expect(invalidPath(() => faults.add(latency({ ms: 1 }), { scope: 'a' } as never))).toBe(
      'faults.add.scope',
    )
    expect(invalidPath(() => faults.add({ kind: 'nope' } as never))).toBe('faults.add.toxic.kind')
    expect(invalidPath(() => faults.add({ kind: 'latency', ms: 'x' } as never))).toBe('faults.latency.ms')
    const id = faults.add({ kind: 'latency', ms: 3 } as Toxic)
    expect(faults.list()[0]?.toxic).toEqual({ kind: 'latency', ms: 3, jitterMs: 0 })
    expect(faults.list()[0]?.id).toBe(id)
  })
})

describe('hooks', () => {
  it('blackhole(): two-way blackholes, proxy-wide or for the picked backend', () => {
    const faults = new Faults()
    faults.add(blackhole(), { backend: 'b' })
    expect(faults.blackhole(undefined)).toBe(false)
    expect(faults.blackhole(A)).toBe(false)
    expect(faults.blackhole(B)).toBe(true)
    faults.add(blackhole(), { direction: 'upstream' }) // one-way: not a hook blackhole
    expect(faults.blackhole(A)).toBe(false)
    expect(faults.wrap('upstream', A)).toBeDefined() // …but the stream drops upstream bytes
    expect(faults.wrap('downstream', A)).toBeUndefined()
    const all = faults.add(blackhole())
    expect(faults.blackhole(undefined)).toBe(true)
    expect(faults.blackhole(A)).toBe(true)
    faults.remove(all)
    expect(faults.blackhole(undefined)).toBe(false)
  })

  it('closeDelayMs(): the largest slowClose for that direction and backend', () => {
    const faults = new Faults()
    expect(faults.closeDelayMs('downstream', A)).toBe(0)
    faults.add(slowClose({ ms: 100 }), { direction: 'downstream' })
    faults.add(slowClose({ ms: 300 }), { direction: 'downstream', backend: 'b' })
    faults.add(slowClose({ ms: 50 }), { direction: 'upstream' })
    expect(faults.closeDelayMs('downstream', A)).toBe(100)
    expect(faults.closeDelayMs('downstream', B)).toBe(300)
    expect(faults.closeDelayMs('upstream', B)).toBe(50)
  })

  it('wrap(): a stream only when a stream toxic applies (slowClose alone needs none)', () => {
    const faults = new Faults()
    faults.add(slowClose({ ms: 100 }))
    expect(faults.wrap('upstream', A)).toBeUndefined()
    faults.add(latency({ ms: 10 }), { backend: 'a', direction: 'downstream' })
    expect(faults.wrap('upstream', A)).toBeUndefined()
    expect(faults.wrap('downstream', B)).toBeUndefined()
    const s = faults.wrap('downstream', A)
    expect(s).toBeDefined()
    expect(faults.liveStreams).toBe(1)
    s?.destroy()
    expect(faults.liveStreams).toBe(0)
    expect(new Faults({ wrapAlways: true }).wrap('upstream', B)).toBeDefined()
  })
})

describe('fault stream (virtual clock)', () => {
  it('latency delays each chunk by ms from its arrival, in order', async () => {
    const clock = new VirtualClock()
    const faults = new Faults({ clock })
    faults.add(latency({ ms: 100 }))
    const s = faults.wrap('upstream', A)!
    const got = collect(s, clock)
    await tick()
    s.write('a')
    clock.advance(10)
    s.write('b')
    clock.advance(89)
    expect(got.text).toBe('')
    clock.advance(1)
    expect(got.chunks).toEqual([{ at: 100, n: 1 }])
    clock.advance(10)
    expect(got.text).toBe('ab')
    expect(got.chunks[1]?.at).toBe(110)
  })

  it('jitter is drawn from the injected random and never reorders', async () => {
    const clock = new VirtualClock()
    const draws = [0.9, 0, 0.5]
    const faults = new Faults({ clock, random: { next: () => draws.shift() ?? 0 } })
    faults.add(latency({ ms: 10, jitterMs: 100 }))
    const s = faults.wrap('downstream', A)!
    const got = collect(s, clock)
    await tick()
    s.write('1') // due 100
    s.write('2') // due 10, but behind '1'
    s.write('3') // due 60, behind '1'
    clock.advance(99)
    expect(got.text).toBe('')
    clock.advance(1)
    expect(got.text).toBe('123')
  })

  it('removing a latency toxic releases the chunks it was holding', async () => {
    const clock = new VirtualClock()
    const faults = new Faults({ clock })
    const id = faults.add(latency({ ms: 10_000 }))
    const s = faults.wrap('upstream', A)!
    const got = collect(s, clock)
    await tick()
    s.write('held')
    clock.advance(100)
    expect(got.text).toBe('')
    faults.remove(id)
    expect(got.text).toBe('held')
    s.write('next')
    expect(got.text).toBe('heldnext')
  })

  it('bandwidth: never more than burst + rate × t, splitting a large chunk', async () => {
    const clock = new VirtualClock()
    const faults = new Faults({ clock })
    faults.add(bandwidth({ bytesPerSecond: 10_240, burstBytes: 1024 }))
    const s = faults.wrap('downstream', A)!
    const got = collect(s, clock)
    await tick()
    s.write(Buffer.alloc(50_000))
    expect(got.bytes).toBe(1024) // the initial burst
    for (let t = 0; t < 4000; t += 50) {
      clock.advance(50)
      expect(got.bytes).toBeLessThanOrEqual(1024 + (10_240 * clock.now()) / 1000)
    }
    // 1 KiB burst + 4 s × 10 KiB/s, within one piece
    expect(got.bytes).toBeGreaterThanOrEqual(1024 + 4 * 10_240 - 1024)
    expect(Math.max(...got.chunks.map((c) => c.n))).toBeLessThanOrEqual(1024)
  })

  it('bandwidth applies backpressure: the writer is told to wait and memory stays bounded', async () => {
    const clock = new VirtualClock()
    const faults = new Faults({ clock })
    faults.add(bandwidth({ bytesPerSecond: 1000 }))
    const s = faults.wrap('upstream', A)!
    collect(s, clock)
    await tick()
    let writes = 0
    while (s.write(Buffer.alloc(4096)) && writes < 1000) writes++
    // write() said "wait" once both sides' buffers were full (their high-water marks differ
    // between Node 20 and 24), long before 4 MB were buffered.
    const bound = s.writableHighWaterMark + s.readableHighWaterMark + 4096
    expect(writes * 4096).toBeLessThanOrEqual(bound)
    clock.advance(1000)
    expect(s.writableLength + s.readableLength).toBeLessThanOrEqual(bound)
  })

  it('resetAfter: exactly N bytes, then an ECONNRESET FaultResetError; later input is dropped', async () => {
    const clock = new VirtualClock()
    const faults = new Faults({ clock })
    faults.add(resetAfter({ bytes: 1000 }), { direction: 'downstream' })
    expect(faults.wrap('upstream', A)).toBeUndefined()
    const s = faults.wrap('downstream', A)!
    const got = collect(s, clock)
    await tick()
    s.write(Buffer.alloc(600))
    s.write(Buffer.alloc(600))
    s.write(Buffer.alloc(600))
    await tick()
    await tick()
    expect(got.bytes).toBe(1000)
    expect(isFaultReset(got.error)).toBe(true)
    expect((got.error as { code?: string }).code).toBe('ECONNRESET')
    expect(s.destroyed).toBe(true)
    expect(faults.liveStreams).toBe(0)
  })

  it('resetAfter added to a live stream counts from when it was added', async () => {
    const clock = new VirtualClock()
    const faults = new Faults({ clock, wrapAlways: true })
    const s = faults.wrap('upstream', A)!
    const got = collect(s, clock)
    await tick()
    s.write(Buffer.alloc(500))
    faults.add(resetAfter({ bytes: 100 }))
    s.write(Buffer.alloc(500))
    await tick()
    await tick()
    expect(got.bytes).toBe(600)
    expect(isFaultReset(got.error)).toBe(true)
  })

  it('resetAfter: delayMs waits on the clock after the last byte; bytes: 0 resets a new stream at once', async () => {
    const clock = new VirtualClock()
    const faults = new Faults({ clock })
    const id = faults.add(resetAfter({ bytes: 3, delayMs: 40 }))
    const s = faults.wrap('upstream', A)!
    const got = collect(s, clock)
    await tick()
    s.write('abcdef')
    clock.advance(39)
    await tick()
    expect(got.text).toBe('abc')
    expect(s.destroyed).toBe(false)
    clock.advance(1)
    await tick()
    expect(isFaultReset(got.error)).toBe(true)
    faults.remove(id)
    faults.add(resetAfter({ bytes: 0 }))
    const t = faults.wrap('downstream', B)!
    const got2 = collect(t, clock)
    await tick()
    await tick()
    expect(got2.bytes).toBe(0)
    expect(isFaultReset(got2.error)).toBe(true)
  })

  it('a one-way blackhole drops bytes on a live stream; removing it lets them through again', async () => {
    const clock = new VirtualClock()
    const faults = new Faults({ clock, wrapAlways: true })
    const s = faults.wrap('downstream', A)! as Duplex & { bytesDropped: number }
    const got = collect(s, clock)
    await tick()
    const id = faults.add(blackhole(), { direction: 'downstream' })
    s.write('lost')
    expect(got.text).toBe('')
    faults.remove(id)
    s.write('kept')
    expect(got.text).toBe('kept')
    expect(s.bytesDropped).toBe(4)
  })

  it('ends only after the delayed chunks are out', async () => {
    const clock = new VirtualClock()
    const faults = new Faults({ clock })
    faults.add(latency({ ms: 50 }))
    const s = faults.wrap('downstream', A)!
    const got = collect(s, clock)
    let ended = false
    s.on('end', () => {
      ended = true
    })
    await tick()
    s.end('bye')
    await tick()
    expect(ended).toBe(false)
    clock.advance(50)
    await tick()
    expect(got.text).toBe('bye')
    expect(ended).toBe(true)
  })
})

import { Transform, type TransformCallback } from 'node:stream'
import type { Clock, Random, TimerHandle } from '@fulcrum/core'
import type { Direction } from '../types.js'
import { NO_EFFECT, type ResetEntry, type StreamEffect } from './effect.js'
import { FaultResetError } from './fault-reset-error.js'

/** @internal What a {@link FaultStream} needs from its {@link Faults}. */
export interface FaultStreamHost {
  readonly clock: Clock
  readonly random: Random
  readonly maxBufferBytes: number
  /** Forget a stream that was destroyed. */
  detach(stream: FaultStream): void
}

/** Compact the queue arrays once this many slots at their head are spent. */
const COMPACT_AT = 64

/**
 * @internal The stream {@link Faults.wrap} returns: one per connection and direction. It queues the
 * chunks it is written (with their arrival time and jitter draw), and one pump releases the head of
 * the queue when its latency is over and the token bucket allows, splitting it into pieces when the
 * bandwidth or a reset budget requires; one clock timer (a bound method) wakes the pump. The toxics
 * are re-read from the registry whenever it changes ({@link FaultStream.update}).
 */
export class FaultStream extends Transform {
  /** The direction this stream carries. */
  readonly direction: Direction
  /** The connection's backend id. */
  readonly backendId: string
  readonly #host: FaultStreamHost
  #effect: StreamEffect = NO_EFFECT

  // Queue of chunks waiting, as parallel arrays consumed from #head.
  #chunks: Buffer[] = []
  #arrivals: number[] = []
  #jitters: number[] = []
  #head = 0
  #queued = 0

  // Token bucket.
  #tokens = 0
  #refilledAt = 0

  // Byte counts.
  #received = 0
  #sent = 0
  #dropped = 0

  // Reset-after: the #sent value each entry counts from, and the #sent value to reset at.
  #resetBase = new Map<ResetEntry, number>()
  #resetAt = Number.POSITIVE_INFINITY
  #resetDelayMs = 0
  #resetting = false

  #timer: TimerHandle | undefined
  #timerAt = 0
  #blocked = false
  #draining = false
  #again = false
  #pendingWrite: TransformCallback | undefined
  #pendingFlush: TransformCallback | undefined

  readonly #onTimer = (): void => {
    this.#timer = undefined
    this.#drain()
  }

  readonly #onResetData = (): void => {
    if (this.readableLength === 0) this.#scheduleReset()
  }

  readonly #fireReset = (): void => {
    this.#timer = undefined
    if (this.destroyed) return
    this.destroy(new FaultResetError(this.direction, this.backendId, this.#sent))
  }

  constructor(host: FaultStreamHost, direction: Direction, backendId: string, effect: StreamEffect) {
    super()
    this.#host = host
    this.direction = direction
    this.backendId = backendId
    this.update(effect)
  }

  /** Bytes written into the stream (by the source), blackholed ones included. */
  get bytesIn(): number {
    return this.#received
  }

  /** Bytes the stream has released to its reader. */
  get bytesOut(): number {
    return this.#sent
  }

  /** Bytes discarded by a blackhole or after a reset. */
  get bytesDropped(): number {
    return this.#dropped
  }

  /** @internal Applies the toxics now registered for this stream (called on every registry change). */
  update(effect: StreamEffect): void {
    const prev = this.#effect
    this.#effect = effect
    if (effect.bytesPerSecond !== Number.POSITIVE_INFINITY) {
      if (prev.bytesPerSecond === Number.POSITIVE_INFINITY) {
        this.#tokens = effect.burstBytes
        this.#refilledAt = this.#host.clock.now()
      } else {
        this.#tokens = Math.min(this.#tokens, effect.burstBytes)
      }
    }
    this.#rebase(effect.resets)
    if (this.#resetting || this.destroyed) return
    if (this.#sent >= this.#resetAt) {
      this.#startReset()
      return
    }
    // Latency may have shrunk, or the bucket grown: re-plan from scratch.
    this.#clearTimer()
    this.#drain()
  }

  /** Keeps each reset entry's starting point; new entries count from now. */
  #rebase(resets: readonly ResetEntry[]): void {
    if (resets.length === 0 && this.#resetBase.size === 0) return
    const next = new Map<ResetEntry, number>()
    let at = Number.POSITIVE_INFINITY
    let delay = 0
    for (const entry of resets) {
      const base = this.#resetBase.get(entry) ?? this.#sent
      next.set(entry, base)
      if (base + entry.toxic.bytes < at) {
        at = base + entry.toxic.bytes
        delay = entry.toxic.delayMs
      }
    }
    this.#resetBase = next
    this.#resetAt = at
    this.#resetDelayMs = delay
  }

  /** The queue size above which writes wait: deep enough to keep a delayed link busy. */
  #limit(): number {
    const e = this.#effect
    return e.latencyMs > 0 || e.jitterMs > 0 ? this.#host.maxBufferBytes : this.writableHighWaterMark
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const n = chunk.length
    this.#received += n
    if (this.#resetting || this.#effect.blackhole) {
      this.#dropped += n
      callback()
      return
    }
    if (n === 0) {
      callback()
      return
    }
    this.#chunks.push(chunk)
    this.#arrivals.push(this.#host.clock.now())
    this.#jitters.push(this.#effect.jitterMs > 0 ? this.#host.random.next() : 0)
    this.#queued += n
    this.#drain()
    if (this.#queued < this.#limit() || this.#resetting) callback()
    else this.#pendingWrite = callback
  }

  override _flush(callback: TransformCallback): void {
    if (this.#resetting) return // the reset destroys the stream; never end it cleanly
    if (this.#queued === 0) callback()
    else this.#pendingFlush = callback
  }

  override _read(size: number): void {
    super._read(size) // Transform's own backpressure (a write callback held while the buffer was full)
    if (this.#blocked) {
      this.#blocked = false
      this.#drain()
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#clearTimer()
    this.#dropQueue()
    this.#pendingWrite = undefined
    this.#pendingFlush = undefined
    this.#host.detach(this)
    callback(error)
  }

  /** Runs the pump until it has to wait; re-entrant calls (from write callbacks) loop instead. */
  #drain(): void {
    if (this.#draining) {
      this.#again = true
      return
    }
    this.#draining = true
    try {
      do {
        this.#again = false
        this.#pump()
        if (this.#pendingWrite !== undefined && (this.#queued < this.#limit() || this.#resetting)) {
          const cb = this.#pendingWrite
          this.#pendingWrite = undefined
          cb() // may write the next chunk synchronously, which sets #again
        }
      } while (this.#again)
    } finally {
      this.#draining = false
    }
  }

  /** Releases what may leave now; arms the timer for what must wait. */
  #pump(): void {
    if (this.#resetting || this.destroyed) return
    const clock = this.#host.clock
    while (this.#head < this.#chunks.length) {
      if (this.#blocked) return
      const e = this.#effect
      const h = this.#head
      const now = clock.now()
      const due = this.#arrivals[h]! + e.latencyMs + this.#jitters[h]! * e.jitterMs
      if (due > now) {
        this.#arm(now, due - now)
        return
      }
      const chunk = this.#chunks[h]!
      let n = chunk.length
      if (e.bytesPerSecond !== Number.POSITIVE_INFINITY) {
        this.#tokens = Math.min(
          e.burstBytes,
          this.#tokens + ((now - this.#refilledAt) * e.bytesPerSecond) / 1000,
        )
        this.#refilledAt = now
        // Wait for a quarter bucket (or the whole rest of the chunk, if smaller), then send all the
        // tokens there are: waiting for a full bucket would waste the tokens of every late timer.
        const need = Math.min(n, Math.max(1, Math.ceil(e.burstBytes / 4)))
        if (this.#tokens < need) {
          this.#arm(now, ((need - this.#tokens) * 1000) / e.bytesPerSecond)
          return
        }
        n = Math.min(n, Math.floor(this.#tokens))
      }
      const room = this.#resetAt - this.#sent
      if (n > room) n = room
      if (n > 0) {
        let piece = chunk
        if (n === chunk.length) {
          this.#head++
        } else {
          piece = chunk.subarray(0, n)
          this.#chunks[h] = chunk.subarray(n)
        }
        if (e.bytesPerSecond !== Number.POSITIVE_INFINITY) this.#tokens -= n
        this.#queued -= n
        this.#sent += n
        if (!this.push(piece)) this.#blocked = true
      }
      if (this.#sent >= this.#resetAt) {
        this.#startReset()
        return
      }
      if (this.#head >= COMPACT_AT) this.#compact()
    }
    this.#compact()
    if (this.#pendingFlush !== undefined) {
      const cb = this.#pendingFlush
      this.#pendingFlush = undefined
      cb()
    }
  }

  /** Arms the pump's timer for `ms` from `now`, unless it already fires by then. */
  #arm(now: number, ms: number): void {
    const at = now + ms
    if (this.#timer !== undefined) {
      if (this.#timerAt <= at) return
      this.#host.clock.clearTimer(this.#timer)
    }
    // Whole milliseconds, at least 1: real timers fire on ms boundaries (a timer that fires a little
    // early just re-arms for the rest).
    const delay = Math.max(1, Math.ceil(ms))
    this.#timerAt = now + delay
    this.#timer = this.#host.clock.setTimer(this.#onTimer, delay)
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return
    this.#host.clock.clearTimer(this.#timer)
    this.#timer = undefined
  }

  /** Drops the spent head of the queue arrays. */
  #compact(): void {
    const h = this.#head
    if (h === 0) return
    if (h === this.#chunks.length) {
      this.#chunks.length = 0
      this.#arrivals.length = 0
      this.#jitters.length = 0
    } else {
      this.#chunks.splice(0, h)
      this.#arrivals.splice(0, h)
      this.#jitters.splice(0, h)
    }
    this.#head = 0
  }

  #dropQueue(): void {
    this.#dropped += this.#queued
    this.#queued = 0
    this.#chunks = []
    this.#arrivals = []
    this.#jitters = []
    this.#head = 0
  }

  /**
   * The byte budget is spent: discard the rest, and raise the reset once every byte already released
   * has been taken by the reader (handed to the destination socket), so that it receives exactly the
   * budget before the RST.
   */
  #startReset(): void {
    this.#resetting = true
    this.#clearTimer()
    this.#dropQueue()
    if (this.#pendingWrite !== undefined) {
      const cb = this.#pendingWrite
      this.#pendingWrite = undefined
      cb()
    }
    if (this.readableLength === 0) this.#scheduleReset()
    else this.on('data', this.#onResetData)
  }

  /** Everything released has been taken: reset after one turn of the event loop, or `delayMs`. */
  #scheduleReset(): void {
    this.off('data', this.#onResetData)
    if (this.#resetDelayMs > 0) this.#timer = this.#host.clock.setTimer(this.#fireReset, this.#resetDelayMs)
    else setImmediate(this.#fireReset)
  }
}

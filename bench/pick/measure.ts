/**
 * Timing and allocation measurement for the pick benchmark. Allocation is measured as the growth
 * of `heapUsed` over a window with no garbage collection in it: the script runs with a large young
 * generation (`--min-semi-space-size` / `--max-semi-space-size`), so a window of 200 000 ops fits,
 * and a `PerformanceObserver` on 'gc' entries tells whether a collection happened anyway.
 */
import { PerformanceObserver } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { getHeapSpaceStatistics } from 'node:v8'

export type Loop = (ops: number) => number

/** Keeps checksums alive so that no loop can be optimised away. */
export let sink = 0

/** Start times (performance.now() clock) of every GC seen since the observer was started. */
const gcStarts: number[] = []
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcStarts.push(e.startTime)
})
observer.observe({ entryTypes: ['gc'] })

/** Stops the GC observer so that the process can exit. */
export function stopObserving(): void {
  observer.disconnect()
}

/** ns/op of one run of `ops` operations. */
export function timeOnce(loop: Loop, ops: number): number {
  const t0 = process.hrtime.bigint()
  sink += loop(ops)
  return Number(process.hrtime.bigint() - t0) / ops
}

/**
 * Runs up to `maxOps` operations in chunks, or fewer if `maxMs` elapse first (slow O(n) cases);
 * returns the ns/op of the last chunk, an estimate of the warmed-up speed.
 */
export function warmup(loop: Loop, maxOps = 200_000, maxMs = 400): number {
  const chunk = 10_000
  const start = performance.now()
  let last = 0
  for (let done = 0; done < maxOps && performance.now() - start < maxMs; done += chunk)
    last = timeOnce(loop, chunk)
  return last
}

/** Op count for one repetition of about `targetMs`, rounded, between 5 000 and 2 000 000. */
export function opsFor(nsPerOp: number, targetMs = 100): number {
  const raw = (targetMs * 1e6) / Math.max(nsPerOp, 1)
  const clamped = Math.min(2_000_000, Math.max(5_000, raw))
  const step = 10 ** Math.floor(Math.log10(clamped))
  return Math.floor(clamped / step) * step
}

export interface Timing {
  /** Ops per repetition. */
  readonly ops: number
  readonly medianNs: number
  readonly minNs: number
  readonly maxNs: number
  readonly samplesNs: readonly number[]
}

export function summarize(ops: number, samples: readonly number[]): Timing {
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { ops, medianNs: median, minNs: sorted[0]!, maxNs: sorted[sorted.length - 1]!, samplesNs: samples }
}

export interface Alloc {
  /** Ops in the measured window. */
  readonly ops: number
  /** Heap growth per op, in bytes (0 when below 0.5). */
  readonly bytesPerOp: number
  /** The raw heap growth per op, unrounded. */
  readonly rawBytesPerOp: number
  /** The part of the growth in new space (young objects), per op. */
  readonly newSpaceBytesPerOp: number
  /** Windows run: 2, or more when a GC spoilt one. */
  readonly attempts: number
  /** True when every window saw a GC (the figure is then unreliable). */
  readonly gcInWindow: boolean
}

function newSpaceUsed(): number {
  for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space') return s.space_used_size
  return 0
}

function collect(): void {
  if (typeof gc !== 'function') throw new Error('run node with --expose-gc')
  gc()
  gc()
}

interface Window {
  readonly ops: number
  readonly raw: number
  readonly young: number
  readonly gc: boolean
}

async function measureWindow(loop: Loop, ops: number): Promise<Window> {
  collect()
  await sleep(1) // let the observer deliver the entries of collect() before the window opens
  const t0 = performance.now()
  const youngBefore = newSpaceUsed()
  const before = process.memoryUsage().heapUsed
  sink += loop(ops)
  const after = process.memoryUsage().heapUsed
  const youngAfter = newSpaceUsed()
  const t1 = performance.now()
  await sleep(1)
  await sleep(1)
  const gc = after < before || gcStarts.some((t) => t >= t0 && t <= t1)
  return { ops, raw: (after - before) / ops, young: (youngAfter - youngBefore) / ops, gc }
}

/**
 * Bytes allocated per op: the lower of two GC-free windows of `ops` operations (the first may still
 * hold one-time allocations: inline caches, re-optimisation). A window spoilt by a GC is run again
 * with half the ops (a case allocating kilobytes per op overflows 256 MB in 20 000 ops); at most 6
 * windows.
 */
export async function allocPerOp(loop: Loop, ops: number): Promise<Alloc> {
  const clean: Window[] = []
  let last: Window | undefined
  let attempts = 0
  let window = ops
  while (clean.length < 2 && attempts < 6) {
    attempts++
    last = await measureWindow(loop, window)
    if (last.gc) window = Math.max(1000, window >> 1)
    else clean.push(last)
  }
  const best = clean.length === 0 ? last! : clean.reduce((a, b) => (b.raw < a.raw ? b : a))
  const bytesPerOp = best.raw < 0.5 ? 0 : Math.round(best.raw * 10) / 10
  return {
    ops: best.ops,
    bytesPerOp,
    rawBytesPerOp: best.raw,
    newSpaceBytesPerOp: best.young,
    attempts,
    gcInWindow: clean.length === 0,
  }
}

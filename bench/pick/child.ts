/**
 * Measures one subject at every pool size, in a process of its own (forked by run.ts) so that the
 * JIT's type feedback from other strategies cannot make this one's call sites polymorphic.
 *
 * argv: subject name, then `time` (median ns/op; run with the default young generation) or `alloc`
 * (B/op over GC-free windows; run with `--min-semi-space-size=256 --max-semi-space-size=256`, which
 * would slow the timing down: the huge young generation is page-faulted in again after every
 * scavenge). Sends a {@link ChildResult} to the parent (or prints it without IPC).
 */
import {
  type Alloc,
  allocPerOp,
  type Loop,
  opsFor,
  stopObserving,
  summarize,
  type Timing,
  timeOnce,
  warmup,
} from './measure.js'
import { makeCase, SIZES, subjectByName } from './subjects.js'

export type Mode = 'time' | 'alloc'

export interface FormResult {
  readonly timing: Timing
  readonly alloc: Alloc
}

export interface SizeResult {
  readonly n: number
  /** Why this size was not measured. */
  readonly skipped?: string
  /** Lease-free form (or the reference operation). */
  readonly acquire?: FormResult
  /** Public form with a Lease; absent for references. */
  readonly pick?: FormResult
  /** Lease-free form with the tick clock: what the strategy and balancer allocate themselves. */
  readonly ownAlloc?: Alloc
}

export interface SubjectResult {
  readonly name: string
  readonly sizes: readonly SizeResult[]
}

/** One child's half of a size: timings or allocations, per form (acquire, then pick if any). */
export interface ChildSize {
  readonly n: number
  readonly skipped?: string
  readonly timings?: readonly Timing[]
  readonly allocs?: readonly Alloc[]
  /** Lease-free allocation with the tick clock (strategies only). */
  readonly tickAlloc?: Alloc
}

export interface ChildResult {
  readonly name: string
  readonly mode: Mode
  readonly sizes: readonly ChildSize[]
}

const REPS = Number(process.env.BENCH_REPS ?? 5)
const ALLOC_OPS = 200_000

async function measureSize(name: string, n: number, mode: Mode): Promise<ChildSize> {
  const subject = subjectByName(name)
  if (subject === undefined) return { n, skipped: `unknown subject ${name}` }
  const c = makeCase(subject, n)
  if (typeof c === 'string') return { n, skipped: c }
  try {
    const loops: Loop[] = c.pick === undefined ? [c.acquire] : [c.acquire, c.pick]
    const ops = loops.map((loop) => opsFor(warmup(loop)))
    if (mode === 'alloc') {
      const allocs: Alloc[] = []
      const windowOps = (k: number) => Math.min(ALLOC_OPS, Math.max(20_000, ops[k]!))
      for (let k = 0; k < loops.length; k++) allocs.push(await allocPerOp(loops[k]!, windowOps(k)))
      if (subject.kind !== 'strategy' || subject.tickClock) return { n, allocs }
      const ticked = makeCase(subject, n, true)
      if (typeof ticked === 'string') return { n, allocs }
      warmup(ticked.acquire)
      const tickAlloc = await allocPerOp(ticked.acquire, windowOps(0))
      ticked.close()
      return { n, allocs, tickAlloc }
    }
    // Forms interleaved per repetition, so that a noisy moment hits both alike.
    const samples: number[][] = loops.map(() => [])
    for (let r = 0; r < REPS; r++)
      for (let k = 0; k < loops.length; k++) samples[k]!.push(timeOnce(loops[k]!, ops[k]!))
    return { n, timings: loops.map((_, k) => summarize(ops[k]!, samples[k]!)) }
  } catch (err) {
    return { n, skipped: `threw while measuring: ${(err as Error).message}` }
  } finally {
    c.close()
  }
}

async function main(): Promise<void> {
  const name = process.argv[2]
  const mode = process.argv[3]
  if (name === undefined || (mode !== 'time' && mode !== 'alloc'))
    throw new Error('usage: child.ts <subject name> time|alloc')
  const sizes: ChildSize[] = []
  for (const n of SIZES) sizes.push(await measureSize(name, n, mode))
  stopObserving()
  const result: ChildResult = { name, mode, sizes }
  if (process.send) process.send(result)
  else console.log(JSON.stringify(result, null, 2))
}

await main()

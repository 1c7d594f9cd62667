/**
 * The repetitions of the TCP benchmark. Every repetition starts every target afresh (a Node
 * process's throughput depends on the state its heap settles in, so one process per run would
 * give one draw, repeated), warms each up with a 1 s iperf3 run, then measures each test with the
 * targets interleaved, in an order that rotates from one repetition to the next. A measurement
 * during which other jobs on the shared machine used over 25% of a CPU is taken again (within a
 * bounded number of retries); the first one is kept in the result's `discarded`.
 */
import type { Live, MeasureContext } from './measure.js'
import { measure } from './measure.js'
import type { Sample, Test } from './report.js'
import type { Backends } from './setup.js'
import { freePort } from './system.js'
import { type StartContext, startTarget, TARGETS, type TargetName } from './targets.js'

export interface RepsContext {
  readonly ctx: StartContext
  readonly mctx: MeasureContext
  readonly backends: Backends
  readonly reps: number
  readonly seconds: number
  readonly log: (msg: string) => void
  readonly notes: string[]
  /** How many noisy samples may be measured again in the whole run. */
  retries: number
  /** Noisy samples that were measured again. */
  readonly discarded: Sample[]
  /** Targets that could not start (filled in by the first repetition), with the reason. */
  readonly skipped: Partial<Record<TargetName, string>>
  /** The targets to run (BENCH_TARGETS), in TARGETS order. */
  readonly targets: readonly TargetName[]
  /** The tests to run (BENCH_TESTS). */
  readonly tests: readonly Test[]
}

export const TESTS: readonly Test[] = ['P1', 'P8', 'req']

/** A sample during which other jobs used more than this share of a CPU is measured again. */
export const NOISY = 0.25

/** Whether a target takes part in a test: the `-notrim` diagnostics only in throughput. */
function takesPart(name: TargetName, test: Test): boolean {
  return test !== 'req' || !name.endsWith('-notrim')
}

async function startAll(rc: RepsContext, rep: number): Promise<Live[]> {
  const { backends } = rc
  const live: Live[] = []
  for (const name of TARGETS) {
    if (rc.skipped[name] !== undefined || !rc.targets.includes(name)) continue
    const tput = name === 'direct' ? backends.iperfPort : await freePort()
    const req = name === 'direct' ? backends.httpPorts[0]! : await freePort()
    const listeners = [
      { port: tput, backends: [{ host: '127.0.0.1', port: backends.iperfPort }] },
      { port: req, backends: backends.httpPorts.map((port) => ({ host: '127.0.0.1', port })) },
    ]
    try {
      live.push({ name, proc: await startTarget(name, listeners, rc.ctx, `rep${rep}`), tput, req })
    } catch (err) {
      const why = (err as Error).message
      if (rep === 1) rc.skipped[name] = why
      rc.notes.push(rep === 1 ? `${name} skipped: ${why}` : `${name} did not start in rep ${rep}: ${why}`)
    }
  }
  return live
}

export async function runReps(rc: RepsContext): Promise<Sample[]> {
  const samples: Sample[] = []
  for (let rep = 1; rep <= rc.reps; rep++) {
    const live = await startAll(rc, rep)
    try {
      for (const t of live) if (t.proc !== undefined) await measure(t, 'P1', 0, 1, rc.mctx, rc.log)
      const order = live.map((_, i) => live[(i + rep - 1) % live.length]!)
      for (const test of rc.tests)
        for (const t of order) {
          if (!takesPart(t.name, test)) continue
          let s = await measure(t, test, rep, rc.seconds, rc.mctx, rc.log)
          while ((s.foreignCpuShare ?? 0) > NOISY && rc.retries > 0) {
            rc.retries--
            const why = `other jobs used ${Math.round((s.foreignCpuShare ?? 0) * 100)}% of a CPU`
            rc.log(`rep ${rep} ${test} ${t.name}: ${why}, measuring again`)
            rc.discarded.push({ ...s, discarded: why })
            s = await measure(t, test, rep, rc.seconds, rc.mctx, rc.log)
          }
          samples.push(s)
          const v = test === 'req' ? `${s.rps?.toFixed(0)} req/s` : `${s.gbps?.toFixed(2)} Gbit/s`
          const waited = s.waitedMs === undefined ? '' : ` (waited ${s.waitedMs} ms for quiet)`
          rc.log(`rep ${rep} ${test} ${t.name}: ${s.failed ?? v}${waited}`)
        }
    } finally {
      for (const t of live) await t.proc?.stop()
    }
  }
  return samples
}

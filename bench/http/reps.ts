/**
 * The repetitions of the HTTP benchmark. Every repetition starts every target afresh on a free
 * port, checks that it proxies both paths correctly, warms it up (1 s of wrk on each path), then
 * runs each scenario with the targets interleaved, in an order that rotates from one repetition to
 * the next. A run during which other jobs used over 25% of a CPU (bench/tcp's NOISY) is taken
 * again, within a bounded number of retries; the first one goes to `discarded`.
 */
import { NOISY } from '../tcp/reps.js'
import { freePort } from '../tcp/system.js'
import { type Live, type LoadContext, measure } from './measure.js'
import { checkAnswers } from './origins.js'
import type { Sample } from './report.js'
import type { Scenario } from './scenarios.js'
import { startTarget, type TargetContext, type TargetName } from './targets.js'

export interface RepsContext {
  readonly targets: readonly TargetName[]
  readonly scenarios: readonly Scenario[]
  readonly origins: readonly number[]
  readonly tctx: TargetContext
  readonly lctx: LoadContext
  readonly reps: number
  readonly seconds: number
  readonly log: (msg: string) => void
  readonly notes: string[]
  /** Targets that could not start in the first repetition, with the reason (filled in here). */
  readonly skipped: Partial<Record<TargetName, string>>
  /** Noisy runs that may still be measured again in the whole benchmark. */
  retries: number
  readonly discarded: Sample[]
}

async function startAll(rc: RepsContext, rep: number): Promise<Live[]> {
  const live: Live[] = []
  for (const name of rc.targets) {
    if (rc.skipped[name] !== undefined) continue
    const port = await freePort()
    let proc: Live['proc'] | undefined
    try {
      proc = await startTarget(name, port, rc.origins, rc.tctx, `rep${rep}`)
      await checkAnswers(port, name)
      live.push({ name, proc, port })
    } catch (err) {
      await proc?.stop()
      const why = (err as Error).message
      if (rep === 1) rc.skipped[name] = why
      rc.notes.push(rep === 1 ? `${name} skipped: ${why}` : `${name} did not start in rep ${rep}: ${why}`)
      rc.log(`${name}: ${why}`)
    }
  }
  return live
}

/** Warms a started target up: 1 s at 64 connections on each path the scenarios use. */
export async function warmUp(t: Live, scenarios: readonly Scenario[], lctx: LoadContext): Promise<void> {
  const paths = [...new Set(scenarios.map((s) => s.path))]
  for (const path of paths) {
    const s = scenarios.find((x) => x.path === path)!
    await measure(t, { ...s, connections: 64 }, 0, 1, lctx)
  }
}

/** Runs every repetition; returns the kept samples (noisy ones measured again go to rc.discarded). */
export async function runReps(rc: RepsContext): Promise<Sample[]> {
  const samples: Sample[] = []
  for (let rep = 1; rep <= rc.reps; rep++) {
    const live = await startAll(rc, rep)
    try {
      for (const t of live) await warmUp(t, rc.scenarios, rc.lctx)
      const order = live.map((_, i) => live[(i + rep - 1) % live.length]!)
      for (const scenario of rc.scenarios)
        for (const t of order) {
          let s = await measure(t, scenario, rep, rc.seconds, rc.lctx)
          while ((s.foreignCpuShare ?? 0) > NOISY && rc.retries > 0) {
            rc.retries--
            const why = `other jobs used ${Math.round((s.foreignCpuShare ?? 0) * 100)}% of a CPU`
            rc.log(`rep ${rep} ${scenario.id} ${t.name}: ${why}, measuring again`)
            rc.discarded.push({ ...s, discarded: why })
            s = await measure(t, scenario, rep, rc.seconds, rc.lctx)
          }
          samples.push(s)
          const v = s.failed ?? `${s.rps?.toFixed(0)} req/s, ${s.cpuUsPerReq?.toFixed(1)} µs CPU/req`
          const err = s.errors === undefined ? '' : ` (${s.errors})`
          const waited = s.waitedMs === undefined ? '' : ` (waited ${s.waitedMs} ms for quiet)`
          rc.log(`rep ${rep} ${scenario.id} ${t.name}: ${v}${err}${waited}`)
        }
    } finally {
      for (const t of live) await t.proc.stop()
    }
  }
  return samples
}

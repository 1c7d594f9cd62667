/**
 * One measurement of one target in one scenario: wait for the shared machine to be quiet (bench/tcp's
 * waitQuiet), reset the peak RSS of the target's processes, run the load, and read over that window
 * the CPU time (utime + stime, /proc/<pid>/stat) and the VmHWM (/proc/<pid>/status) of the target's
 * process tree (nginx: master and worker), the connections the origins accepted (upstream
 * reconnects), each CPU's busy time and the CPU time of other jobs.
 */
import { writeFileSync } from 'node:fs'
import { type MeasureContext, waitQuiet } from '../tcp/measure.js'
import { busyBetween, cpuJiffies, foreignCpu, memoryOf, processTable } from '../tcp/system.js'
import type { Running } from '../tcp/targets.js'
import { descendants } from './cleanup.js'
import { type LoadGen, load } from './load.js'
import { originAccepts } from './origins.js'
import type { Sample } from './report.js'
import type { Scenario } from './scenarios.js'
import type { TargetName } from './targets.js'

/** A started target. */
export interface Live {
  readonly name: TargetName
  readonly proc: Running
  readonly port: number
}

export interface LoadContext {
  readonly gen: LoadGen
  readonly loadCpu: string | undefined
  /** bench/tcp's context of waitQuiet (only its shared `quietBudgetMs` is used). */
  readonly quiet: MeasureContext
  /** The origins' stub_status port. */
  readonly statusPort: number
  /** Whether VmHWM could be reset (`echo 5 > /proc/<pid>/clear_refs`); set by the first reset. */
  peakReset?: boolean
}

type Table = ReturnType<typeof processTable>

function tree(pid: number, table: Table): number[] {
  return [pid, ...descendants(pid, table)]
}

/** Resets the peak RSS of these processes so that each scenario reports its own. */
function resetPeak(pids: readonly number[], ctx: LoadContext): void {
  for (const pid of pids)
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5')
      ctx.peakReset ??= true
    } catch {
      ctx.peakReset = false
    }
}

function peakKiB(pids: readonly number[]): number {
  let sum = 0
  for (const pid of pids)
    try {
      sum += memoryOf(pid).hwmKiB
    } catch {}
  return sum
}

/** Runs `scenario` for `seconds` through `t` (rep 0: a warm-up, no quiet wait). */
export async function measure(
  t: Live,
  scenario: Scenario,
  rep: number,
  seconds: number,
  ctx: LoadContext,
): Promise<Sample> {
  const waitedMs = rep > 0 ? await waitQuiet(ctx.quiet) : 0
  const base = { rep, scenario: scenario.id, target: t.name, ...(waitedMs > 0 && { waitedMs }) }
  resetPeak(tree(t.proc.pid, processTable()), ctx)
  const a0 = await originAccepts(ctx.statusPort)
  const p0 = processTable()
  const j0 = cpuJiffies()
  const t0 = performance.now()
  try {
    const r = await load(ctx.gen, ctx.loadCpu, t.port, scenario, seconds)
    const p1 = processTable()
    const wall = (performance.now() - t0) / 1000
    const upstreamConnects = (await originAccepts(ctx.statusPort)) - a0 - 1
    const pids = tree(t.proc.pid, p1)
    const proxyCpuSec = pids.reduce((a, pid) => a + (p1.get(pid)?.cpu ?? 0) - (p0.get(pid)?.cpu ?? 0), 0)
    return {
      ...base,
      rps: r.rps,
      requests: r.requests,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      non2xx: r.non2xx,
      socketErrors: r.socketErrors,
      proxyCpuSec,
      cpuUsPerReq: r.requests > 0 ? (proxyCpuSec * 1e6) / r.requests : Number.NaN,
      upstreamConnects,
      peakRssKiB: peakKiB(pids),
      processes: pids.length,
      cpuBusy: busyBetween(j0, cpuJiffies()),
      foreignCpuShare: foreignCpu(p0, p1) / wall,
      ...(r.errors !== undefined && { errors: r.errors }),
    }
  } catch (err) {
    return { ...base, cpuBusy: [], failed: (err as Error).message }
  }
}

/**
 * One measurement of one target: optionally wait for the shared machine to be quiet, then run
 * iperf3 or wrk through the target while reading the target's CPU time, each CPU's busy time and
 * the CPU time of processes outside this benchmark (another job on the machine).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { iperf, wrk } from './load.js'
import type { Sample, Test } from './report.js'
import type { Tools } from './setup.js'
import { busyBetween, cpuJiffies, foreignCpu, processTable, procStat } from './system.js'
import type { Running, TargetName } from './targets.js'

/** A started target and its two listening ports. */
export interface Live {
  readonly name: TargetName
  readonly proc: Running | undefined
  /** Port forwarding to iperf3 -s. */
  readonly tput: number
  /** Port forwarding to the HTTP backends. */
  readonly req: number
}

export interface MeasureContext {
  readonly tool: Tools
  readonly loadCpu: string | undefined
  /** Restarts iperf3 -s after a failure. */
  readonly recover: () => Promise<void>
  /** Total time left for waiting for quiet, in ms (shared by all measurements, decremented). */
  quietBudgetMs: number
}

/**
 * Waits in 500 ms windows until processes outside the benchmark use under 10% of a CPU, or the
 * shared budget is spent; returns the ms waited beyond the first window.
 */
export async function waitQuiet(ctx: MeasureContext): Promise<number> {
  for (let waited = 0; ; waited += 500) {
    const a = processTable()
    await sleep(500)
    if (foreignCpu(a, processTable()) < 0.05 || ctx.quietBudgetMs <= 0) return waited
    ctx.quietBudgetMs -= 500
  }
}

function proxyDelta(pid: number, s0: { cpu: number; minflt: number }) {
  const s1 = procStat(pid)
  return { proxyCpuSec: s1.cpu - s0.cpu, proxyFaults: s1.minflt - s0.minflt }
}

export async function measure(
  t: Live,
  test: Test,
  rep: number,
  seconds: number,
  ctx: MeasureContext,
  log: (msg: string) => void,
): Promise<Sample> {
  const waitedMs = rep > 0 ? await waitQuiet(ctx) : 0
  const pid = t.proc?.pid
  const base = { rep, test, target: t.name, ...(waitedMs > 0 && { waitedMs }) }
  const p0 = processTable()
  const s0 = pid === undefined ? undefined : procStat(pid)
  const j0 = cpuJiffies()
  const t0 = performance.now()
  const after = () => {
    const wall = (performance.now() - t0) / 1000
    return {
      ...(pid !== undefined && s0 !== undefined && proxyDelta(pid, s0)),
      cpuBusy: busyBetween(j0, cpuJiffies()),
      foreignCpuShare: foreignCpu(p0, processTable()) / wall,
    }
  }
  try {
    if (test === 'req') {
      if (ctx.tool.wrk === undefined) throw new Error('wrk not found')
      const r = await wrk(ctx.tool.wrk, ctx.loadCpu, t.req, 64, seconds)
      return { ...base, ...r, ...after() }
    }
    if (ctx.tool.iperf3 === undefined) throw new Error('iperf3 not found')
    const r = await iperf(ctx.tool.iperf3, ctx.loadCpu, t.tput, test === 'P1' ? 1 : 8, seconds)
    return { ...base, gbps: r.gbps, bytes: r.bytes, ...after() }
  } catch (err) {
    log(`${t.name} ${test} rep ${rep} failed: ${(err as Error).message}`)
    await ctx.recover()
    return { ...base, cpuBusy: [], failed: (err as Error).message }
  }
}

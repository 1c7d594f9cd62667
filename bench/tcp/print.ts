/** The saved result of the TCP benchmark and its markdown rendering. */
import type { IdleResult } from './idle.js'
import { type ProfileResult, profileTable } from './profile.js'
import {
  idleTable,
  type Ratio,
  ratioTable,
  requestTable,
  type Sample,
  type Summary,
  throughputTable,
} from './report.js'

export interface Result {
  readonly env: {
    readonly node: string
    readonly cpu: string
    readonly cpus: number
    readonly memGiB: number
    readonly kernel: string
    readonly tools: Record<string, string>
    readonly proxyCpu: string
    readonly loadCpu: string
    readonly reps: number
    readonly seconds: number
    readonly fdHardLimit: number
    readonly ephemeralPorts: string
    readonly notrimEnv: string
    readonly date: string
    readonly wallSeconds: number
    readonly quietWaitedMs: number
  }
  readonly notes: readonly string[]
  readonly summaries: readonly Summary[]
  readonly ratios: readonly Ratio[]
  readonly idle: readonly IdleResult[]
  readonly profiles: readonly ProfileResult[]
  readonly samples: readonly Sample[]
  readonly discarded: readonly Sample[]
}

export function print(r: Result): void {
  const e = r.env
  const proxyCpu = Number(e.proxyCpu) || 0
  const loadCpu = Number(e.loadCpu) || 0
  console.log(`\n## TCP proxy — ${e.node}, ${e.cpus}× ${e.cpu}, Linux ${e.kernel}`)
  console.log(
    `\nProxies pinned to CPU ${e.proxyCpu}, load generators and backends to CPU ${e.loadCpu}; ${e.reps} repetitions of ${e.seconds} s per test, targets interleaved; ${e.date}.`,
  )
  console.log(`Tools: ${Object.values(e.tools).join('; ')}.`)
  console.log(
    `Open-file hard limit ${e.fdHardLimit}; ephemeral ports ${e.ephemeralPorts}; run took ${e.wallSeconds} s.`,
  )
  console.log(`\`-notrim\` targets: the same Node process with ${e.notrimEnv}.`)
  const notes = [...r.notes]
  if ((r.discarded ?? []).length > 0)
    notes.push(
      `measured again because other jobs used over 25% of a CPU meanwhile: ${(r.discarded ?? []).map((s) => `${s.target} ${s.test} rep ${s.rep}`).join(', ')}`,
    )
  if (e.quietWaitedMs > 0)
    notes.push(`waited ${(e.quietWaitedMs / 1000).toFixed(1)} s in all for other jobs to quieten`)
  if (notes.length > 0) console.log(`\nNotes:\n- ${notes.join('\n- ')}`)
  console.log('\n### Throughput (iperf3, 1 backend)\n')
  console.log(throughputTable(r.summaries, proxyCpu, loadCpu))
  console.log('\n### Small requests (wrk -t1 -c64, HTTP keep-alive, 3 backends)\n')
  console.log(requestTable(r.summaries, proxyCpu, loadCpu))
  const errors = r.summaries.flatMap((s) => s.errors.map((x) => `${s.target} ${s.test} ${x}`))
  if (errors.length > 0) console.log(`\nErrors reported by the load generators:\n- ${errors.join('\n- ')}`)
  console.log('\n### Ratios per repetition\n')
  console.log(ratioTable(r.ratios, e.reps))
  if (r.idle.length > 0) {
    console.log('\n### Idle connections\n')
    console.log(idleTable(r.idle))
  }
  for (const p of r.profiles) console.log(`\n### CPU profile\n\n${profileTable(p)}`)
}

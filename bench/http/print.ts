/** The saved result of the HTTP benchmark (bench/results/http.json) and its markdown rendering. */
import { fmt } from '../tcp/report.js'
import { type ProfileResult, profileTable } from './profile.js'
import type { Ratio, Sample, Summary } from './report.js'
import { SCENARIOS, type ScenarioId, scenarioLabel } from './scenarios.js'
import type { TargetName } from './targets.js'

export interface Result {
  readonly env: {
    readonly node: string
    readonly cpu: string
    readonly cpus: number
    readonly kernel: string
    readonly tools: Record<string, string>
    readonly loadGenerator: string
    readonly origins: string
    readonly proxyCpu: string
    readonly loadCpu: string
    readonly reps: number
    readonly seconds: number
    readonly nginxKeepalive: number
    readonly nodeTargetsRun: string
    readonly peakRssReset: boolean
    readonly date: string
    readonly wallSeconds: number
    readonly quietWaitedMs: number
  }
  readonly notes: readonly string[]
  readonly scenarios: readonly ScenarioId[]
  readonly targets: readonly TargetName[]
  readonly summaries: readonly Summary[]
  readonly ratios: readonly Ratio[]
  readonly profile?: ProfileResult
  readonly samples: readonly Sample[]
  readonly discarded: readonly Sample[]
}

const pct = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? '—' : `${Math.round(x * 100)}%`
const times = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : `${fmt(x)}×`)

/** One scenario's table: medians per target, and each target's rate and CPU cost as multiples of the floor's. */
export function scenarioTable(r: Result, id: ScenarioId): string {
  const pc = Number(r.env.proxyCpu) || 0
  const lc = Number(r.env.loadCpu) || 0
  const rows = [
    `| target | req/s median (min–max) | rate × floor | p50 ms | p99 ms | proxy CPU µs/req | CPU × floor | peak RSS MiB | upstream connects /1k req | CPU ${pc} (proxy) | CPU ${lc} (load) | other jobs, max | non-2xx / socket errors |`,
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ]
  for (const s of r.summaries.filter((x) => x.scenario === id)) {
    const f = r.ratios.find((x) => x.scenario === id && x.num === s.target && x.den === 'floor')
    const floor = s.target === 'floor' ? 1 : undefined
    rows.push(
      `| ${s.target} | ${fmt(s.rps, 4)} (${fmt(s.rpsMin, 4)}–${fmt(s.rpsMax, 4)}) | ${times(floor ?? f?.rateMedian)} | ${fmt(s.p50Ms)} | ${fmt(s.p99Ms)} | ${fmt(s.cpuUsPerReq)} | ${times(floor ?? f?.costMedian)} | ${fmt(s.peakRssKiB / 1024)} | ${fmt(s.connectsPer1k)} | ${pct(s.cpuBusy[pc])} | ${pct(s.cpuBusy[lc])} | ${pct(s.maxForeign)} | ${s.non2xx} / ${s.socketErrors} |`,
    )
  }
  return rows.join('\n')
}

/** Fulcrum against each peer, per repetition and medianed; higher is better for fulcrum in both. */
export function fulcrumTable(r: Result): string {
  const reps = Array.from({ length: r.env.reps }, (_, i) => `${i + 1}`).join(', ')
  const rows = [
    `| scenario | peer | rate fulcrum / peer (reps ${reps}) | median | CPU/req peer / fulcrum (reps ${reps}) | median |`,
    '|---|---|--:|--:|--:|--:|',
  ]
  const list = (xs: readonly number[]) => xs.map((x) => fmt(x)).join(', ')
  for (const x of r.ratios.filter((q) => q.num === 'fulcrum'))
    rows.push(
      `| ${x.scenario} | ${x.den} | ${list(x.rate)} | **${times(x.rateMedian)}** | ${list(x.cpu)} | **${times(x.cpuMedian)}** |`,
    )
  return rows.join('\n')
}

/** Prints the whole result as markdown: header, notes, a table per scenario, fulcrum's ratios, the profile. */
export function print(r: Result): void {
  const e = r.env
  console.log(`\n## HTTP reverse proxy — ${e.node}, ${e.cpus}× ${e.cpu}, Linux ${e.kernel}`)
  console.log(
    `\nTargets pinned to CPU ${e.proxyCpu}, ${e.loadGenerator} and the 3 ${e.origins} origins to CPU ${e.loadCpu}; ${e.reps} repetition(s) of ${e.seconds} s per scenario, targets started afresh per repetition and interleaved; ${e.date}; took ${e.wallSeconds} s.`,
  )
  console.log(
    `Tools: ${Object.values(e.tools).join('; ') || 'none'}. Node targets run as ${e.nodeTargetsRun}.`,
  )
  console.log(
    `Proxy CPU = utime+stime of the target's processes over the run / requests. Peak RSS = VmHWM summed over them${e.peakRssReset ? ', reset before each run' : ' (not resettable here: cumulative over the repetition)'}.`,
  )
  console.log(
    `Upstream connects = connections the origins accepted during the run (keep-alive reuse; nginx caches ${e.nginxKeepalive} idle ones).`,
  )
  const notes = [...r.notes]
  const again = new Map<string, number>()
  for (const s of r.discarded)
    again.set(
      `${s.target} ${s.scenario} rep ${s.rep}`,
      (again.get(`${s.target} ${s.scenario} rep ${s.rep}`) ?? 0) + 1,
    )
  if (again.size > 0)
    notes.push(
      `measured again because other jobs used over 25% of a CPU: ${[...again].map(([k, n]) => (n > 1 ? `${k} (${n}×)` : k)).join(', ')}`,
    )
  if (e.quietWaitedMs > 0)
    notes.push(`waited ${(e.quietWaitedMs / 1000).toFixed(1)} s in all for other jobs to quieten`)
  const failed = r.samples.filter((s) => s.failed !== undefined)
  for (const s of failed) notes.push(`${s.target} ${s.scenario} rep ${s.rep} failed: ${s.failed}`)
  if (notes.length > 0) console.log(`\nNotes:\n- ${notes.join('\n- ')}`)
  for (const id of r.scenarios) {
    if (!r.summaries.some((s) => s.scenario === id)) continue
    const sc = SCENARIOS.find((s) => s.id === id)!
    console.log(`\n### ${id}: ${scenarioLabel(sc)}\n`)
    console.log(scenarioTable(r, id))
  }
  if (r.ratios.some((x) => x.num === 'fulcrum')) {
    console.log('\n### Fulcrum against each peer (ratios within each repetition, then medianed)\n')
    console.log(fulcrumTable(r))
  }
  if (r.profile !== undefined) console.log(`\n### CPU profile\n\n${profileTable(r.profile)}`)
}

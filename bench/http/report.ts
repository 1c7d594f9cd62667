/**
 * Samples and summaries of the HTTP benchmark: medians over repetitions per target and scenario,
 * and ratios computed within each repetition (so that the machine's drift between repetitions
 * cancels) and then medianed: rate `a / b` (higher is better for `a`) and CPU per request `b / a`
 * (higher is better for `a`, i.e. how many times cheaper `a` is).
 */
import { median } from '../tcp/report.js'
import type { ScenarioId } from './scenarios.js'
import type { TargetName } from './targets.js'

/** One measurement of one target in one scenario and repetition. */
export interface Sample {
  readonly rep: number
  readonly scenario: ScenarioId
  readonly target: TargetName
  readonly rps?: number
  readonly requests?: number
  readonly p50Ms?: number
  readonly p99Ms?: number
  readonly non2xx?: number
  readonly socketErrors?: number
  /** utime + stime of the target's processes (it and its children) during the run, in s. */
  readonly proxyCpuSec?: number
  /** proxyCpuSec per request, in µs. */
  readonly cpuUsPerReq?: number
  /** Connections the origins accepted during the run (new upstream connections of the target). */
  readonly upstreamConnects?: number
  /** Sum of VmHWM over the target's processes at the end of the run (reset before it when allowed), KiB. */
  readonly peakRssKiB?: number
  /** How many processes the target had (nginx: master and worker). */
  readonly processes?: number
  /** Busy fraction of each CPU during the run. */
  readonly cpuBusy: readonly number[]
  /** CPUs used by processes outside the benchmark meanwhile (0.1 = 10% of one). */
  readonly foreignCpuShare?: number
  readonly waitedMs?: number
  readonly errors?: string
  /** The measurement failed (the value fields are then absent). */
  readonly failed?: string
  /** Why this sample was measured again (kept in `discarded` only). */
  readonly discarded?: string
}

export interface Summary {
  readonly scenario: ScenarioId
  readonly target: TargetName
  readonly reps: number
  readonly rps: number
  readonly rpsMin: number
  readonly rpsMax: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly cpuUsPerReq: number
  readonly peakRssKiB: number
  /** Median new upstream connections per 1000 requests. */
  readonly connectsPer1k: number
  readonly cpuBusy: readonly number[]
  readonly maxForeign: number
  /** Non-2xx responses and socket errors over all repetitions. */
  readonly non2xx: number
  readonly socketErrors: number
}

export interface Ratio {
  readonly scenario: ScenarioId
  readonly num: TargetName
  readonly den: TargetName
  /** num rps / den rps, per repetition (NaN where either is missing). */
  readonly rate: readonly number[]
  /** den CPU per request / num CPU per request, per repetition. */
  readonly cpu: readonly number[]
  readonly rateMedian: number
  readonly cpuMedian: number
  /** The inverse view, num CPU per request / den CPU per request (a cost multiple), medianed per repetition. */
  readonly costMedian: number
}

const ok = (s: Sample) => s.failed === undefined

/** Medians over the repetitions of one target in one scenario (failed runs left out); undefined when none ran. */
export function summarize(
  samples: readonly Sample[],
  scenario: ScenarioId,
  target: TargetName,
): Summary | undefined {
  const mine = samples.filter((s) => s.scenario === scenario && s.target === target && ok(s))
  if (mine.length === 0) return undefined
  const rps = mine.map((s) => s.rps ?? Number.NaN)
  const med = (f: (s: Sample) => number | undefined) => median(mine.map((s) => f(s) ?? Number.NaN))
  const sum = (f: (s: Sample) => number | undefined) => mine.reduce((a, s) => a + (f(s) ?? 0), 0)
  return {
    scenario,
    target,
    reps: mine.length,
    rps: median(rps),
    rpsMin: Math.min(...rps),
    rpsMax: Math.max(...rps),
    p50Ms: med((s) => s.p50Ms),
    p99Ms: med((s) => s.p99Ms),
    cpuUsPerReq: med((s) => s.cpuUsPerReq),
    peakRssKiB: med((s) => s.peakRssKiB),
    connectsPer1k: med((s) =>
      s.requests ? ((s.upstreamConnects ?? Number.NaN) * 1000) / s.requests : Number.NaN,
    ),
    cpuBusy: mine[0]!.cpuBusy.map((_, i) => med((s) => s.cpuBusy[i])),
    maxForeign: Math.max(0, ...mine.map((s) => s.foreignCpuShare ?? 0)),
    non2xx: sum((s) => s.non2xx),
    socketErrors: sum((s) => s.socketErrors),
  }
}

/** Per-repetition ratios of `num` to `den` in a scenario; undefined when no repetition has both. */
export function ratio(
  samples: readonly Sample[],
  reps: number,
  scenario: ScenarioId,
  num: TargetName,
  den: TargetName,
): Ratio | undefined {
  const at = (t: TargetName, rep: number) =>
    samples.find((s) => s.scenario === scenario && s.target === t && s.rep === rep && ok(s))
  const rate: number[] = []
  const cpu: number[] = []
  for (let rep = 1; rep <= reps; rep++) {
    const a = at(num, rep)
    const b = at(den, rep)
    rate.push((a?.rps ?? Number.NaN) / (b?.rps ?? Number.NaN))
    cpu.push((b?.cpuUsPerReq ?? Number.NaN) / (a?.cpuUsPerReq ?? Number.NaN))
  }
  if (!rate.some(Number.isFinite)) return undefined
  const costMedian = median(cpu.map((x) => 1 / x))
  return { scenario, num, den, rate, cpu, rateMedian: median(rate), cpuMedian: median(cpu), costMedian }
}

/**
 * The ratios reported: fulcrum to every peer, and every other target to the floor (the figures
 * that hold across machines, see shared/reference/node-http-costs.md).
 */
export function allRatios(
  samples: readonly Sample[],
  reps: number,
  scenarios: readonly ScenarioId[],
  targets: readonly TargetName[],
): Ratio[] {
  const pairs: [TargetName, TargetName][] = [
    ...targets.filter((t) => t !== 'fulcrum').map((t): [TargetName, TargetName] => ['fulcrum', t]),
    ...targets
      .filter((t) => t !== 'floor' && t !== 'fulcrum')
      .map((t): [TargetName, TargetName] => [t, 'floor']),
  ]
  return scenarios.flatMap((sc) => pairs.flatMap(([n, d]) => ratio(samples, reps, sc, n, d) ?? []))
}

/**
 * Notes on targets that opened a new upstream connection for more than 5% of their requests in a
 * scenario (keep-alive not reused): nginx whenever more requests are in flight than its
 * `keepalive` cache holds.
 */
export function reconnectNotes(sums: readonly Summary[], nginxKeepalive: number): string[] {
  return sums
    .filter((s) => s.connectsPer1k > 50)
    .map((s) => {
      const why =
        s.target === 'nginx'
          ? ` (its keepalive ${nginxKeepalive} caches fewer idle connections than the requests in flight; BENCH_NGINX_KEEPALIVE=256 keeps them all)`
          : ''
      return `${s.target} ${s.scenario}: ${Math.round(s.connectsPer1k)} new upstream connections per 1000 requests${why}`
    })
}

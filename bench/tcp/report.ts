/**
 * Summaries and markdown tables of the TCP benchmark: medians over repetitions, per-repetition
 * ratios between targets, proxy CPU per GB and per request, and the idle-connection memory.
 */
import type { IdleResult } from './idle.js'
import type { TargetName } from './targets.js'

export type Test = 'P1' | 'P8' | 'req'

/** One measurement of one target in one repetition. */
export interface Sample {
  readonly rep: number
  readonly test: Test
  readonly target: TargetName
  readonly gbps?: number
  readonly bytes?: number
  readonly rps?: number
  readonly requests?: number
  readonly p50Ms?: number
  readonly p99Ms?: number
  /** utime + stime of the target process during the measurement (absent for direct). */
  readonly proxyCpuSec?: number
  /** Minor page faults of the target process during the measurement. */
  readonly proxyFaults?: number
  /** Busy fraction of each CPU during the measurement. */
  readonly cpuBusy: readonly number[]
  /** CPU used by processes outside the benchmark during the measurement, in CPUs (0.1 = 10% of one). */
  readonly foreignCpuShare?: number
  /** Time waited for the machine to be quiet before the measurement, in ms. */
  readonly waitedMs?: number
  readonly errors?: string
  /** The measurement failed (the value fields are then absent). */
  readonly failed?: string
  /** Why this sample was measured again (kept in `discarded`, not in the tables). */
  readonly discarded?: string
}

export const TEST_LABEL: Record<Test, string> = {
  P1: 'iperf3 -P 1 (Gbit/s)',
  P8: 'iperf3 -P 8 (Gbit/s)',
  req: 'wrk -t1 -c64 (req/s)',
}

/** Numerator / denominator pairs reported per repetition. */
export const RATIOS: readonly (readonly [TargetName, TargetName])[] = [
  ['fulcrum', 'pipe'],
  ['fulcrum', 'haproxy'],
  ['fulcrum', 'nginx'],
  ['pipe', 'direct'],
  ['haproxy', 'pipe'],
  ['nginx', 'pipe'],
  ['fulcrum-notrim', 'pipe-notrim'],
  ['pipe-notrim', 'pipe'],
  ['fulcrum-notrim', 'haproxy'],
  ['fulcrum', 'fulcrum-base'],
  ['fulcrum-base', 'pipe'],
  ['fulcrum-base', 'haproxy'],
]

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** The headline value of a sample: Gbit/s or requests/s. */
export function headline(s: Sample): number {
  return (s.test === 'req' ? s.rps : s.gbps) ?? Number.NaN
}

/** Proxy CPU seconds per GB (10^9 bytes) for throughput, µs per request for wrk. */
export function cpuCost(s: Sample): number {
  if (s.proxyCpuSec === undefined) return Number.NaN
  if (s.test === 'req') return s.requests ? (s.proxyCpuSec * 1e6) / s.requests : Number.NaN
  return s.bytes ? s.proxyCpuSec / (s.bytes / 1e9) : Number.NaN
}

/** Proxy minor page faults per GB (throughput) or per 1000 requests (wrk). */
export function faultCost(s: Sample): number {
  if (s.proxyFaults === undefined) return Number.NaN
  if (s.test === 'req') return s.requests ? (s.proxyFaults * 1000) / s.requests : Number.NaN
  return s.bytes ? s.proxyFaults / (s.bytes / 1e9) : Number.NaN
}

export interface Summary {
  readonly test: Test
  readonly target: TargetName
  readonly reps: number
  readonly median: number
  readonly min: number
  readonly max: number
  /** Median CPU s/GB (throughput) or µs/request (wrk). */
  readonly cpuCost: number
  /** Median minor page faults of the proxy per GB (throughput) or per 1000 requests (wrk). */
  readonly faultCost: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** Median busy fraction of each CPU. */
  readonly cpuBusy: readonly number[]
  /** Highest CPU share used by other jobs during one of the repetitions. */
  readonly maxForeign: number
  readonly errors: readonly string[]
}

export function summarize(samples: readonly Sample[], test: Test, target: TargetName): Summary | undefined {
  const mine = samples.filter((s) => s.test === test && s.target === target && s.failed === undefined)
  if (mine.length === 0) return undefined
  const values = mine.map(headline)
  const cpus = mine[0]!.cpuBusy.map((_, i) => median(mine.map((s) => s.cpuBusy[i] ?? Number.NaN)))
  return {
    test,
    target,
    reps: mine.length,
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    cpuCost: median(mine.map(cpuCost)),
    faultCost: median(mine.map(faultCost)),
    p50Ms: median(mine.map((s) => s.p50Ms ?? Number.NaN)),
    p99Ms: median(mine.map((s) => s.p99Ms ?? Number.NaN)),
    cpuBusy: cpus,
    maxForeign: Math.max(0, ...mine.map((s) => s.foreignCpuShare ?? 0)),
    errors: mine.flatMap((s) => (s.errors === undefined ? [] : [`rep ${s.rep}: ${s.errors}`])),
  }
}

export interface Ratio {
  readonly test: Test
  readonly num: TargetName
  readonly den: TargetName
  /** Per repetition (NaN where either side is missing). */
  readonly perRep: readonly number[]
  readonly median: number
}

export function ratios(samples: readonly Sample[], reps: number): Ratio[] {
  const out: Ratio[] = []
  const at = (test: Test, t: TargetName, rep: number) => {
    const s = samples.find(
      (x) => x.test === test && x.target === t && x.rep === rep && x.failed === undefined,
    )
    return s === undefined ? Number.NaN : headline(s)
  }
  for (const test of ['P1', 'P8', 'req'] as const)
    for (const [num, den] of RATIOS) {
      const perRep = Array.from({ length: reps }, (_, r) => at(test, num, r + 1) / at(test, den, r + 1))
      if (perRep.some((x) => Number.isFinite(x))) out.push({ test, num, den, perRep, median: median(perRep) })
    }
  return out
}

/** 3 significant digits, '—' for NaN. */
export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return '—'
  if (Math.abs(x) >= 10 ** digits) return String(Math.round(x))
  return x.toPrecision(digits)
}

const pct = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? '—' : `${Math.round(x * 100)}%`

export function throughputTable(sums: readonly Summary[], proxyCpu: number, loadCpu: number): string {
  const rows = [
    `| target | test | Gbit/s median (min–max) | proxy CPU s/GB | proxy page faults/GB | CPU ${proxyCpu} busy (proxy) | CPU ${loadCpu} busy (load) | other jobs, max |`,
    '|---|---|--:|--:|--:|--:|--:|--:|',
  ]
  for (const s of sums.filter((x) => x.test !== 'req'))
    rows.push(
      `| ${s.target} | -P ${s.test.slice(1)} | ${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)}) | ${fmt(s.cpuCost)} | ${fmt(s.faultCost)} | ${pct(s.cpuBusy[proxyCpu])} | ${pct(s.cpuBusy[loadCpu])} | ${pct(s.maxForeign)} |`,
    )
  return rows.join('\n')
}

export function requestTable(sums: readonly Summary[], proxyCpu: number, loadCpu: number): string {
  const rows = [
    `| target | req/s median (min–max) | p50 ms | p99 ms | proxy CPU µs/req | CPU ${proxyCpu} busy (proxy) | CPU ${loadCpu} busy (load) | other jobs, max |`,
    '|---|--:|--:|--:|--:|--:|--:|--:|',
  ]
  for (const s of sums.filter((x) => x.test === 'req'))
    rows.push(
      `| ${s.target} | ${fmt(s.median, 4)} (${fmt(s.min, 4)}–${fmt(s.max, 4)}) | ${fmt(s.p50Ms)} | ${fmt(s.p99Ms)} | ${fmt(s.cpuCost)} | ${pct(s.cpuBusy[proxyCpu])} | ${pct(s.cpuBusy[loadCpu])} | ${pct(s.maxForeign)} |`,
    )
  return rows.join('\n')
}

export function ratioTable(rs: readonly Ratio[], reps: number): string {
  const reph = Array.from({ length: reps }, (_, i) => `rep ${i + 1}`)
  const rows = [
    `| ratio | test | ${reph.join(' | ')} | median |`,
    `|---|---|${reph.map(() => '--:').join('|')}|--:|`,
  ]
  for (const r of rs)
    rows.push(
      `| ${r.num} / ${r.den} | ${r.test === 'req' ? 'req/s' : `-P ${r.test.slice(1)}`} | ${r.perRep.map((x) => `${fmt(x)}×`.replace('—×', '—')).join(' | ')} | **${fmt(r.median)}×** |`,
    )
  return rows.join('\n')
}

export function idleTable(rs: readonly IdleResult[]): string {
  const mib = (kib: number) => fmt(kib / 1024)
  const rows = [
    '| target | connections held (sockets) | fds | baseline RSS MiB | RSS held MiB | peak RSS (VmHWM) MiB | KiB/conn (peak) | KiB/conn (held) | peak at 10 000, projected MiB |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  ]
  for (const r of rs)
    rows.push(
      `| ${r.target} | ${r.held} (${2 * r.held}) | ${r.fdsHeld} / ${r.fdLimit} | ${mib(r.baselineRssKiB)} | ${mib(r.heldRssKiB)} | ${mib(r.peakRssKiB)} | ${fmt(r.peakKiBPerConnection)} | ${fmt(r.heldKiBPerConnection)} | ${fmt(r.projectedPeakMiBAt10k)} |`,
    )
  return rows.join('\n')
}

/**
 * Profiling a Node target during a single-stream iperf3 run: the proxy child runs with
 * `node --cpu-prof`, and the profile's self time is summed per function (name, file, line). V8
 * samples only the JS thread and counts the time libuv spends outside JS (epoll_wait, and the
 * read() syscalls of the sockets) as "(idle)"; the write() syscalls show as `writeBuffer`.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { iperf, wrk } from './load.js'
import { procStat } from './system.js'
import { type StartContext, startTarget } from './targets.js'

interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number
    readonly callFrame: {
      readonly functionName: string
      readonly url: string
      readonly lineNumber: number
    }
  }[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

export interface SelfTime {
  readonly fn: string
  readonly ms: number
  /** Share of the profile's non-idle time. */
  readonly share: number
}

export type ProfiledTarget = 'pipe' | 'fulcrum' | 'fulcrum-notrim' | 'fulcrum-base'

export interface ProfileResult {
  readonly target: ProfiledTarget
  /** The load: `P1` (iperf3 -P 1, the default when absent) or `req` (wrk -t1 -c64). */
  readonly test?: 'P1' | 'req'
  readonly gbps: number
  /** `req` only: requests/s under the profiler and proxy CPU µs per request. */
  readonly rps?: number
  readonly cpuUsPerReq?: number
  readonly cpuSec: number
  /** Proxy CPU seconds and minor page faults per GB received by iperf3. */
  readonly cpuSecPerGB: number
  readonly faultsPerGB: number
  readonly profiledMs: number
  readonly idleMs: number
  readonly top: readonly SelfTime[]
}

/** Self time per function of a .cpuprofile, highest first (idle excluded from the shares). */
export function selfTimes(
  profile: CpuProfile,
  top = 20,
): { top: SelfTime[]; totalMs: number; idleMs: number } {
  const label = new Map<number, string>()
  for (const n of profile.nodes) {
    const f = n.callFrame
    const where = f.url === '' ? '' : ` ${basename(f.url)}:${f.lineNumber + 1}`
    label.set(n.id, `${f.functionName === '' ? '(anonymous)' : f.functionName}${where}`)
  }
  const ms = new Map<string, number>()
  let totalMs = 0
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000
    totalMs += dt
    const key = label.get(id) ?? '?'
    ms.set(key, (ms.get(key) ?? 0) + dt)
  })
  const idleMs = ms.get('(idle)') ?? 0
  const busy = totalMs - idleMs
  const sorted = [...ms.entries()].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1])
  return {
    top: sorted.slice(0, top).map(([fn, t]) => ({ fn, ms: t, share: busy > 0 ? t / busy : 0 })),
    totalMs,
    idleMs,
  }
}

export interface ProfileLoad {
  readonly test: 'P1' | 'req'
  readonly iperf3: string | undefined
  readonly iperfPort: number
  readonly wrk: string | undefined
  readonly httpPorts: readonly number[]
  readonly loadCpu: string | undefined
  readonly seconds: number
}

/**
 * Runs `iperf3 -P 1` (test `P1`) or `wrk -t1 -c64` (test `req`, over the 3 HTTP backends) for
 * `seconds` through a freshly started, profiled Node target.
 */
export async function profileTarget(
  target: ProfiledTarget,
  ctx: StartContext,
  port: number,
  load: ProfileLoad,
): Promise<ProfileResult> {
  const { test, loadCpu, seconds } = load
  const dir = join(ctx.dir, `prof-${target}-${test}`)
  mkdirSync(dir, { recursive: true })
  const backends =
    test === 'P1'
      ? [{ host: '127.0.0.1', port: load.iperfPort }]
      : load.httpPorts.map((p) => ({ host: '127.0.0.1', port: p }))
  const proc = await startTarget(target, [{ port, backends }], { ...ctx, cpuProfDir: dir }, `prof-${target}`)
  if (proc === undefined) throw new Error('no process to profile')
  let gbps = Number.NaN
  let rps: number | undefined
  let requests = Number.NaN
  let cpuSec = Number.NaN
  let gb = Number.NaN
  let faults = Number.NaN
  try {
    const s0 = procStat(proc.pid)
    if (test === 'P1') {
      const r = await iperf(load.iperf3!, loadCpu, port, 1, seconds)
      gbps = r.gbps
      gb = r.bytes / 1e9
    } else {
      const r = await wrk(load.wrk!, loadCpu, port, 64, seconds)
      rps = r.rps
      requests = r.rps * r.seconds
    }
    const s1 = procStat(proc.pid)
    cpuSec = s1.cpu - s0.cpu
    faults = s1.minflt - s0.minflt
  } finally {
    await proc.stop()
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (file === undefined) throw new Error(`no .cpuprofile in ${dir}`)
  const summary = selfTimes(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile)
  return {
    target,
    test,
    gbps,
    ...(rps !== undefined && { rps, cpuUsPerReq: (cpuSec * 1e6) / requests }),
    cpuSec,
    cpuSecPerGB: cpuSec / gb,
    faultsPerGB: faults / gb,
    profiledMs: summary.totalMs,
    idleMs: summary.idleMs,
    top: summary.top,
  }
}

export function profileTable(p: ProfileResult): string {
  const load =
    p.test === 'req'
      ? `${p.target} (wrk -t1 -c64): ${Math.round(p.rps ?? Number.NaN)} req/s under the profiler, ${p.cpuSec.toFixed(2)} s CPU (${(p.cpuUsPerReq ?? Number.NaN).toFixed(1)} µs/req)`
      : `${p.target} (iperf3 -P 1): ${p.gbps.toFixed(2)} Gbit/s under the profiler, ${p.cpuSec.toFixed(2)} s CPU (${p.cpuSecPerGB.toFixed(2)} s/GB, ${Math.round(p.faultsPerGB)} page faults/GB)`
  const rows = [
    `${load}; profile ${(p.profiledMs / 1000).toFixed(1)} s, of which "(idle)" ${(p.idleMs / 1000).toFixed(1)} s (the event loop outside JS: epoll and libuv's read() calls)`,
    '',
    '| self time, function (bundle file:line) | ms | share of non-idle |',
    '|---|--:|--:|',
  ]
  for (const t of p.top) rows.push(`| \`${t.fn}\` | ${t.ms.toFixed(0)} | ${(t.share * 100).toFixed(1)}% |`)
  return rows.join('\n')
}

/**
 * Profiling a Node target during a single-stream iperf3 run: the proxy child runs with
 * `node --cpu-prof`, and the profile's self time is summed per function (name, file, line). V8
 * samples only the JS thread and counts the time libuv spends outside JS (epoll_wait, and the
 * read() syscalls of the sockets) as "(idle)"; the write() syscalls show as `writeBuffer`.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { iperf } from './load.js'
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

export type ProfiledTarget = 'pipe' | 'fulcrum' | 'fulcrum-notrim'

export interface ProfileResult {
  readonly target: ProfiledTarget
  readonly gbps: number
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

/** Runs `iperf3 -P 1` for `seconds` through a freshly started, profiled Node target. */
export async function profileTarget(
  target: ProfiledTarget,
  ctx: StartContext,
  iperf3: string,
  iperfPort: number,
  port: number,
  loadCpu: string | undefined,
  seconds: number,
): Promise<ProfileResult> {
  const dir = join(ctx.dir, `prof-${target}`)
  mkdirSync(dir, { recursive: true })
  const listener = { port, backends: [{ host: '127.0.0.1', port: iperfPort }] }
  const proc = await startTarget(target, [listener], { ...ctx, cpuProfDir: dir }, `prof-${target}`)
  if (proc === undefined) throw new Error('no process to profile')
  let gbps = Number.NaN
  let cpuSec = Number.NaN
  let gb = Number.NaN
  let faults = Number.NaN
  try {
    const s0 = procStat(proc.pid)
    const r = await iperf(iperf3, loadCpu, port, 1, seconds)
    const s1 = procStat(proc.pid)
    gbps = r.gbps
    gb = r.bytes / 1e9
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
    gbps,
    cpuSec,
    cpuSecPerGB: cpuSec / gb,
    faultsPerGB: faults / gb,
    profiledMs: summary.totalMs,
    idleMs: summary.idleMs,
    top: summary.top,
  }
}

export function profileTable(p: ProfileResult): string {
  const rows = [
    `${p.target}: ${p.gbps.toFixed(2)} Gbit/s under the profiler, ${p.cpuSec.toFixed(2)} s CPU (${p.cpuSecPerGB.toFixed(2)} s/GB, ${Math.round(p.faultsPerGB)} page faults/GB); profile ${(p.profiledMs / 1000).toFixed(1)} s, of which "(idle)" ${(p.idleMs / 1000).toFixed(1)} s (the event loop outside JS: epoll and libuv's read() calls)`,
    '',
    '| self time, function (bundle file:line) | ms | share of non-idle |',
    '|---|--:|--:|',
  ]
  for (const t of p.top) rows.push(`| \`${t.fn}\` | ${t.ms.toFixed(0)} | ${(t.share * 100).toFixed(1)}% |`)
  return rows.join('\n')
}

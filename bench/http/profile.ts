/**
 * `--profile`: one Node target (fulcrum by default) started afresh with `node --cpu-prof`, warmed
 * up, then driven by one 64-connection 2-byte run; the profile's self time is summed per function
 * with bench/tcp's selfTimes, and each bundle position is named after the source module it came
 * from. V8 samples only the JS thread: time in epoll and libuv's reads shows as "(idle)", the
 * socket writes as `writeBuffer`/`writev`.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { selfTimes } from '../tcp/profile.js'
import { freePort } from '../tcp/system.js'
import { bundleSources } from './bundle.js'
import { type LoadContext, measure } from './measure.js'
import { PROFILE_SCENARIO, SCENARIOS } from './scenarios.js'
import { type NodeTarget, startTarget, type TargetContext } from './targets.js'

export interface ProfileResult {
  readonly target: NodeTarget
  readonly scenario: string
  readonly rps: number
  readonly cpuUsPerReq: number
  readonly profiledMs: number
  readonly idleMs: number
  readonly top: readonly { readonly fn: string; readonly ms: number; readonly share: number }[]
}

/** Rewrites `fn child.mjs:LINE` labels to `fn path/of/module.ts (bundle line LINE)`. */
function relabel(fn: string, bundle: string | undefined): string {
  if (bundle === undefined) return fn
  const where = bundleSources(bundle)
  return fn.replace(/ ([\w.-]+\.mjs):(\d+)$/, (all, _file: string, line: string) => {
    const src = where(Number(line))
    return src === undefined ? all : ` ${src} (bundle line ${line})`
  })
}

/** Profiles `target` during one {@link PROFILE_SCENARIO} run of `seconds`. */
export async function profileTarget(
  target: NodeTarget,
  tctx: TargetContext,
  lctx: LoadContext,
  origins: readonly number[],
  seconds: number,
): Promise<ProfileResult> {
  const dir = join(tctx.dir, `prof-${target}`)
  mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const proc = await startTarget(target, port, origins, { ...tctx, cpuProfDir: dir }, `prof-${target}`)
  let sample: Awaited<ReturnType<typeof measure>>
  try {
    const live = { name: target, proc, port }
    await measure(live, SCENARIOS[0]!, 0, 1, lctx)
    sample = await measure(live, PROFILE_SCENARIO, 1, seconds, lctx)
  } finally {
    await proc.stop()
  }
  if (sample.failed !== undefined) throw new Error(`profile run of ${target} failed: ${sample.failed}`)
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (file === undefined) throw new Error(`no .cpuprofile in ${dir}`)
  const summary = selfTimes(JSON.parse(readFileSync(join(dir, file), 'utf8')), 25)
  const bundle = tctx.node[target]?.find((a) => a.endsWith('.mjs'))
  return {
    target,
    scenario: PROFILE_SCENARIO.id,
    rps: sample.rps ?? Number.NaN,
    cpuUsPerReq: sample.cpuUsPerReq ?? Number.NaN,
    profiledMs: summary.totalMs,
    idleMs: summary.idleMs,
    top: summary.top.map((t) => ({ ...t, fn: relabel(t.fn, bundle) })),
  }
}

/** The profile as markdown. */
export function profileTable(p: ProfileResult): string {
  const rows = [
    `${p.target}, ${p.scenario} under \`--cpu-prof\`: ${p.rps.toFixed(0)} req/s, ${p.cpuUsPerReq.toFixed(1)} µs CPU/req (the profiler costs some); profile ${(p.profiledMs / 1000).toFixed(1)} s, of which "(idle)" ${(p.idleMs / 1000).toFixed(1)} s (outside JS: epoll and libuv's reads)`,
    '',
    '| self time, function (source module) | ms | share of non-idle |',
    '|---|--:|--:|',
  ]
  for (const t of p.top) rows.push(`| \`${t.fn}\` | ${t.ms.toFixed(0)} | ${(t.share * 100).toFixed(1)}% |`)
  return rows.join('\n')
}

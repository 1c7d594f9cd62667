/**
 * TCP proxy benchmark: direct, a hand-written `net` pipe (the Node floor), Fulcrum's
 * `createTcpProxy`, HAProxy `mode tcp` and nginx `stream`, side by side in one run.
 *
 * - Throughput: `iperf3 -c … -t 5 -J` with `-P 1` and `-P 8` through each target to one
 *   `iperf3 -s` (every proxy balances round robin over that 1 backend).
 * - Small requests: `wrk -t1 -c64 -d5s --latency` through each target to nginx `return 200 'ok'`
 *   on 3 ports (3 identical backends, round robin; direct goes to the first).
 * - Idle connections (idle.ts): peak RSS of each proxy holding 10 000 client connections, or as
 *   many as the open-file limit allows.
 * - Diagnostics `pipe-notrim` and `fulcrum-notrim` (throughput only): the same Node processes with
 *   glibc's heap trimming off (NOTRIM_ENV), which separates Node's allocator cost from the relay's.
 * - CPU profiles (profile.ts) of fulcrum, pipe and fulcrum-notrim during a single-stream run.
 *
 * Each target is a process of its own, pinned to the proxy CPU and started afresh in every
 * repetition (reps.ts); iperf3, wrk and the backends are pinned to the load CPU. Targets are
 * interleaved within each repetition (their order rotates); the tables give medians and the
 * per-repetition ratios. Proxy CPU time and page faults are read from /proc/<pid>/stat. Missing
 * tools are skipped with a note. Writes bench/results/tcp.json.
 *
 * - A/B diagnostic `fulcrum-base`: with BENCH_BASE_BUNDLE=<file.mjs> (an esbuild bundle of
 *   proxy-child.ts built from other sources, e.g. the previous commit; see docs/benchmarks.md),
 *   that bundle runs as a further Fulcrum target in the same repetitions.
 *
 * Usage: `pnpm --filter @fulcrum/bench bench:tcp [-- --no-profile] [-- --no-idle]`, or `-- --report`.
 * Env: BENCH_TARGETS (comma-separated subset of direct,pipe,fulcrum,haproxy,nginx,pipe-notrim,
 * fulcrum-notrim,fulcrum-base; default all, fulcrum-base only with BENCH_BASE_BUNDLE), BENCH_TESTS
 * (subset of P1,P8,req; default all), BENCH_PROFILE (the profiles' loads, P1 and/or req; default P1),
 * BENCH_REPS (3), BENCH_SECONDS (5), BENCH_PROXY_CPU (0), BENCH_LOAD_CPU (1),
 * BENCH_IDLE_CONNECTIONS (10000), BENCH_QUIET_MS (60000: total time allowed for waiting, before a
 * measurement, until other jobs on the shared machine use under 10% of a CPU), BENCH_RETRIES (10:
 * noisy measurements that may be taken again).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nginxStream } from './configs.js'
import { type IdleResult, idleTest } from './idle.js'
import type { MeasureContext } from './measure.js'
import { print, type Result } from './print.js'
import { type ProfileResult, profileTarget } from './profile.js'
import { ratios, type Sample, summarize } from './report.js'
import { runReps, TESTS } from './reps.js'
import { startBackends, tools } from './setup.js'
import { bundle, canPin, ephemeralPorts, freePort, hardNofile } from './system.js'
import { BASE_BUNDLE, NOTRIM_ENV, type StartContext, TARGETS, type TargetName } from './targets.js'

const OUT = fileURLToPath(new URL('../results/tcp.json', import.meta.url))
const REPS = Number(process.env.BENCH_REPS ?? 3)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const PROXY_CPU = canPin ? (process.env.BENCH_PROXY_CPU ?? '0') : undefined
const LOAD_CPU = canPin ? (process.env.BENCH_LOAD_CPU ?? '1') : undefined
const QUIET_MS = Number(process.env.BENCH_QUIET_MS ?? 60_000)
const RETRIES = Number(process.env.BENCH_RETRIES ?? 10)
const IDLE_WANTED = Number(process.env.BENCH_IDLE_CONNECTIONS ?? 10_000)
const args = process.argv.slice(2).filter((a) => a !== '--')

/** A comma-separated env var restricted to `all` (every value when unset). */
function listEnv<T extends string>(name: string, all: readonly T[], fallback: readonly T[] = all): T[] {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return [...fallback]
  const wanted = raw.split(',').map((x) => x.trim())
  const bad = wanted.filter((x) => !(all as readonly string[]).includes(x))
  if (bad.length > 0) throw new Error(`${name}: unknown ${bad.join(', ')} (known: ${all.join(', ')})`)
  return all.filter((x) => wanted.includes(x))
}
const SELECTED = listEnv(
  'BENCH_TARGETS',
  TARGETS,
  TARGETS.filter((t) => t !== 'fulcrum-base' || BASE_BUNDLE !== undefined),
)
const SELECTED_TESTS = listEnv('BENCH_TESTS', TESTS)
const PROFILE_TESTS = listEnv('BENCH_PROFILE', ['P1', 'req'] as const, ['P1'])
const log = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`)

async function main(): Promise<void> {
  if (args.includes('--report')) return print(JSON.parse(readFileSync(OUT, 'utf8')) as Result)
  const started = Date.now()
  const tool = tools()
  const notes = [...tool.notes]
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-bench-tcp-'))
  const bundled = join(dir, 'proxy-child.mjs')
  const useBundle = bundle(fileURLToPath(new URL('./proxy-child.ts', import.meta.url)), bundled)
  if (!useBundle) notes.push('esbuild not found: the Node targets ran under tsx (its loader thread included)')
  const hard = hardNofile()
  const idleN = Math.min(IDLE_WANTED, Math.floor((hard - 100) / 2 / 50) * 50)
  if (idleN < IDLE_WANTED)
    notes.push(
      `open-file hard limit ${hard} (ulimit -n cannot go higher here: no CAP_SYS_RESOURCE): idle test at ${idleN} connections (${2 * idleN} proxy sockets), 10 000 projected`,
    )
  // The idle test's client and the proxy each take an ephemeral port per connection.
  const eph = ephemeralPorts()
  const ephCount = eph.high - eph.low + 1
  if (ephCount < 2 * idleN) notes.push(`ephemeral port range ${eph.low}–${eph.high} is short of ${2 * idleN}`)
  const ctx: StartContext = {
    dir,
    cpu: PROXY_CPU,
    bundle: useBundle ? bundled : undefined,
    haproxy: tool.haproxy,
    nginx: tool.nginx,
    nginxStream: tool.nginxV === undefined ? undefined : nginxStream(tool.nginxV),
    maxconn: Math.floor((hard - 64) / 2),
    baseBundle: BASE_BUNDLE,
  }
  if (tool.nginx !== undefined && ctx.nginxStream === undefined)
    notes.push('nginx stream skipped: nginx has no stream module (apt-get install libnginx-mod-stream)')
  const backends = await startBackends(tool, dir, LOAD_CPU)
  const mctx: MeasureContext = { tool, loadCpu: LOAD_CPU, recover: backends.recover, quietBudgetMs: QUIET_MS }
  const skipped: Partial<Record<TargetName, string>> = {}
  let samples: Sample[] = []
  const discarded: Sample[] = []
  let idle: IdleResult[] = []
  const profiles: ProfileResult[] = []
  try {
    const reps = {
      ...{ ctx, mctx, backends, reps: REPS, seconds: SECONDS, log, notes, skipped },
      targets: SELECTED,
      tests: SELECTED_TESTS,
    }
    samples = await runReps({ ...reps, retries: RETRIES, discarded })
    if (!args.includes('--no-profile')) {
      for (const test of PROFILE_TESTS)
        for (const target of ['fulcrum', 'pipe', 'fulcrum-notrim', 'fulcrum-base'] as const) {
          if (test === 'req' && target === 'fulcrum-notrim') continue
          if (skipped[target] !== undefined || !SELECTED.includes(target)) continue
          if ((test === 'P1' ? tool.iperf3 : tool.wrk) === undefined) continue
          log(`profiling ${target} (${test === 'P1' ? 'iperf3 -P 1' : 'wrk -t1 -c64'})`)
          profiles.push(
            await profileTarget(target, ctx, await freePort(), {
              test,
              iperf3: tool.iperf3,
              iperfPort: backends.iperfPort,
              wrk: tool.wrk,
              httpPorts: backends.httpPorts,
              loadCpu: LOAD_CPU,
              seconds: SECONDS,
            }),
          )
        }
    }
    if (!args.includes('--no-idle'))
      for (const target of ['pipe', 'fulcrum', 'haproxy', 'nginx', 'fulcrum-base'] as const) {
        if (skipped[target] !== undefined || !SELECTED.includes(target)) continue
        log(`idle connections: ${target}, ${idleN}`)
        try {
          idle.push(await idleTest(target, idleN, ctx, LOAD_CPU))
        } catch (err) {
          notes.push(`idle test of ${target} failed: ${(err as Error).message}`)
        }
      }
  } finally {
    await backends.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  idle = idle.filter((r) => r.held > 0)
  const present = SELECTED.filter((t) => skipped[t] === undefined)
  const result: Result = {
    env: {
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      cpus: cpus().length,
      memGiB: Math.round(totalmem() / 2 ** 30),
      kernel: release(),
      tools: tool.versions,
      proxyCpu: PROXY_CPU ?? 'none',
      loadCpu: LOAD_CPU ?? 'none',
      reps: REPS,
      seconds: SECONDS,
      fdHardLimit: hard,
      ephemeralPorts: `${eph.low}-${eph.high}`,
      notrimEnv: `GLIBC_TUNABLES=${NOTRIM_ENV.GLIBC_TUNABLES}`,
      date: new Date().toISOString(),
      wallSeconds: Math.round((Date.now() - started) / 1000),
      quietWaitedMs: QUIET_MS - Math.max(0, mctx.quietBudgetMs),
    },
    notes,
    summaries: (['P1', 'P8', 'req'] as const).flatMap((test) =>
      present.flatMap((t) => summarize(samples, test, t) ?? []),
    ),
    ratios: ratios(samples, REPS),
    idle,
    profiles,
    samples,
    discarded,
  }
  mkdirSync(fileURLToPath(new URL('../results/', import.meta.url)), { recursive: true })
  writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`)
  print(result)
  console.log(`\nWrote ${OUT} in ${result.env.wallSeconds} s.`)
}

await main()

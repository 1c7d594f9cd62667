/**
 * HTTP reverse-proxy benchmark: Fulcrum's `createHttpProxy` beside a hand-written node:http + undici
 * floor, npm `http-proxy`, fastify + `@fastify/reply-from`, nginx and HAProxy, each balancing round
 * robin over 3 keep-alive origins (nginx on the load CPU; node:http without nginx).
 *
 * Scenarios (scenarios.ts): `wrk -t1 -c64|-c256 --latency` for `GET /` (2 B) and `GET /16k`
 * (16 KiB). Every target is a process of its own pinned to the proxy CPU, started afresh per
 * repetition; targets are interleaved in a rotating order (reps.ts). Per run: req/s, p50/p99,
 * non-2xx and socket errors, proxy CPU µs per request (/proc/<pid>/stat of the target's process
 * tree) and peak RSS (VmHWM). Tables give medians and ratios computed within each repetition.
 * Missing nginx/HAProxy are skipped with a note; without wrk, autocannon runs through npx.
 * The vCPUs of the shared machine change speed by up to 2× for minutes at a time (on either CPU,
 * with nothing else running in the VM: the host's contention), which moves every absolute figure;
 * the ratios within a repetition are what hold.
 *
 * Usage: `pnpm --filter @fulcrum/bench bench:http [-- --report] [-- --profile[=target]]`
 * Env: BENCH_REPS (3; 0 with --profile: the profile only), BENCH_SECONDS (5), BENCH_TARGETS
 * (e.g. `fulcrum,floor`), BENCH_SCENARIOS (e.g. `c64-2b`), BENCH_PROXY_CPU (0), BENCH_LOAD_CPU (1),
 * BENCH_QUIET_MS (60000), BENCH_RETRIES (10), BENCH_LOADGEN (wrk | autocannon), BENCH_BUNDLE
 * (1; 0 runs the Node targets under tsx), BENCH_NGINX_KEEPALIVE (256), BENCH_OUT
 * (bench/results/http.json). `--targets=…` and `--scenarios=…` work as the env vars.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, release, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { tools } from '../tcp/setup.js'
import { installCleanup } from './cleanup.js'
import { AUTOCANNON, type LoadGen } from './load.js'
import type { LoadContext } from './measure.js'
import { type Options, options } from './options.js'
import { checkAnswers, startOrigins } from './origins.js'
import { print, type Result } from './print.js'
import { type ProfileResult, profileTarget } from './profile.js'
import { allRatios, reconnectNotes, type Sample, summarize } from './report.js'
import { runReps } from './reps.js'
import { NODE_TARGETS, type NodeTarget, prepareNodeTargets, type TargetName } from './targets.js'

const log = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`)

function loadGen(opts: Options, wrk: string | undefined, notes: string[]): LoadGen {
  if (opts.loadGen !== 'autocannon' && wrk !== undefined) return { kind: 'wrk', path: wrk }
  if (opts.loadGen === 'wrk') throw new Error('BENCH_LOADGEN=wrk but wrk is not installed')
  notes.push(
    `${opts.loadGen === 'autocannon' ? 'BENCH_LOADGEN=autocannon' : 'wrk not found (apt-get install wrk)'}: load from \`npx ${AUTOCANNON}\`, a Node process that saturates the load CPU long before wrk; rates are not comparable with wrk runs`,
  )
  return { kind: 'autocannon' }
}

async function main(): Promise<void> {
  const opts = options()
  if (opts.report) return print(JSON.parse(readFileSync(opts.out, 'utf8')) as Result)
  const dir = mkdtempSync(join(tmpdir(), 'fulcrum-bench-http-'))
  installCleanup(log, () => rmSync(dir, { recursive: true, force: true }))
  const started = Date.now()
  const tool = tools()
  const notes: string[] = []
  const skipped: Partial<Record<TargetName, string>> = {}
  if (tool.nginx === undefined) notes.push('nginx not found: nginx target skipped, node:http origins used')
  if (tool.haproxy === undefined)
    notes.push('haproxy not found: HAProxy target skipped (apt-get install haproxy)')
  for (const t of ['nginx', 'haproxy'] as const) if (tool[t] === undefined) skipped[t] = `${t} not found`
  const gen = loadGen(opts, tool.wrk, notes)
  const targets = opts.targets.filter((t) => skipped[t] === undefined)
  const nodeNames = NODE_TARGETS.filter((t) => targets.includes(t) || t === opts.profile)
  const prepared = prepareNodeTargets(nodeNames, opts.bundle)
  for (const [name, why] of Object.entries(prepared.failed)) {
    skipped[name as NodeTarget] = why
    notes.push(`${name} skipped: ${why}`)
    log(`${name} skipped: ${why}`)
  }
  if (!opts.bundle)
    notes.push('BENCH_BUNDLE=0: Node targets ran under tsx (its loader thread in their RSS and CPU)')
  const tctx = {
    dir,
    cpu: opts.proxyCpu,
    tools: tool,
    node: prepared.node,
    nginxKeepalive: opts.nginxKeepalive,
  }
  let samples: Sample[] = []
  const discarded: Sample[] = []
  let profile: ProfileResult | undefined
  const origins = await startOrigins(tool.nginx, dir, opts.loadCpu)
  const lctx: LoadContext = {
    gen,
    loadCpu: opts.loadCpu,
    quiet: { tool, loadCpu: opts.loadCpu, recover: async () => {}, quietBudgetMs: opts.quietMs },
    statusPort: origins.statusPort,
  }
  try {
    for (const port of origins.ports) await checkAnswers(port, `origin :${port}`)
    const rc = { targets, scenarios: opts.scenarios, origins: origins.ports, tctx, lctx, log, notes, skipped }
    samples = await runReps({
      ...rc,
      reps: opts.reps,
      seconds: opts.seconds,
      retries: opts.retries,
      discarded,
    })
    if (opts.profile !== undefined && skipped[opts.profile] === undefined) {
      log(`profiling ${opts.profile}`)
      try {
        profile = await profileTarget(opts.profile, tctx, lctx, origins.ports, opts.seconds)
      } catch (err) {
        notes.push(`profile of ${opts.profile} failed: ${(err as Error).message}`)
      }
    } else if (opts.profile !== undefined) notes.push(`profile skipped: ${skipped[opts.profile]}`)
  } finally {
    await origins.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  const present = targets.filter((t) => skipped[t] === undefined)
  const ids = opts.scenarios.map((s) => s.id)
  const summaries = ids.flatMap((id) => present.flatMap((t) => summarize(samples, id, t) ?? []))
  notes.push(...reconnectNotes(summaries, opts.nginxKeepalive))
  const versions = Object.fromEntries(Object.entries(tool.versions).filter(([k]) => k !== 'iperf3'))
  const result: Result = {
    env: {
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      cpus: cpus().length,
      kernel: release(),
      tools: versions,
      loadGenerator: gen.kind === 'wrk' ? 'wrk' : AUTOCANNON,
      origins: origins.kind,
      proxyCpu: opts.proxyCpu ?? 'none',
      loadCpu: opts.loadCpu ?? 'none',
      reps: opts.reps,
      seconds: opts.seconds,
      nginxKeepalive: opts.nginxKeepalive,
      nodeTargetsRun: opts.bundle ? 'esbuild bundles under plain node' : 'TypeScript under tsx',
      peakRssReset: lctx.peakReset === true,
      date: new Date().toISOString(),
      wallSeconds: Math.round((Date.now() - started) / 1000),
      quietWaitedMs: opts.quietMs - Math.max(0, lctx.quiet.quietBudgetMs),
    },
    notes,
    scenarios: ids,
    targets: present,
    summaries,
    ratios: allRatios(samples, opts.reps, ids, present),
    ...(profile !== undefined && { profile }),
    samples,
    discarded,
  }
  print(result)
  if (opts.reps === 0) return console.log(`\nBENCH_REPS=0: ${opts.out} left as it was.`)
  mkdirSync(dirname(opts.out), { recursive: true })
  writeFileSync(opts.out, `${JSON.stringify(result, null, 2)}\n`)
  console.log(`\nWrote ${opts.out} in ${result.env.wallSeconds} s.`)
}

await main()

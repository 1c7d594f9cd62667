/**
 * pick() + release() microbenchmark: every strategy at 3, 10, 100 and 1000 backends, lease-free
 * (`acquire` + `release` on a reused LeaseSlot) and with a Lease (`pick()` + `lease.release()`),
 * beside a modulo-counter floor and the `hashring` npm package. Each subject runs in its own forked
 * process (child.ts), twice: once for timing with the default young generation, once for allocation
 * with a 256 MB one (ALLOC_FLAGS) so that 200 000 ops fit between two scavenges. Writes
 * bench/results/pick.json and prints markdown tables.
 *
 * Usage: `pnpm bench` (all subjects), `pnpm bench -- p2c roundRobin` (a subset, by name prefix), or
 * `pnpm bench -- --report` (print the tables of the last bench/results/pick.json again).
 */
import { type ChildProcess, fork, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { ChildResult, FormResult, Mode, SizeResult, SubjectResult } from './child.js'
import { allocating, FLOOR, fullTable, matrix, ringTable } from './report.js'
import { SUBJECTS } from './subjects.js'

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url))
const OUT_DIR = fileURLToPath(new URL('../results/', import.meta.url))

/**
 * The CPU the children are pinned to with taskset (`BENCH_CPU=none` to not pin). The two shared
 * vCPUs of the benchmark machine differ in speed by up to 1.7× (rendezvous at 1000 backends: 9.3 µs
 * on CPU 0, 5.5 µs on CPU 1), so unpinned runs jump between two sets of figures. Default: the last.
 */
const CPU = process.env.BENCH_CPU ?? String(cpus().length - 1)
const TASKSET = CPU !== 'none' && existsSync('/usr/bin/taskset') ? '/usr/bin/taskset' : undefined

/** Young generation large enough for a GC-free allocation window (only for the `alloc` children). */
const ALLOC_FLAGS = ['--min-semi-space-size=256', '--max-semi-space-size=256']

function runChild(name: string, mode: Mode): Promise<ChildResult> {
  const base = process.execArgv.filter((a) => !a.includes('semi-space-size'))
  const execArgv = mode === 'alloc' ? [...base, ...ALLOC_FLAGS] : base
  return new Promise((resolve, reject) => {
    let result: ChildResult | undefined
    const stdio = ['ignore', 'inherit', 'inherit', 'ipc'] as const
    const child: ChildProcess =
      TASKSET === undefined
        ? fork(CHILD, [name, mode], { execArgv, stdio: [...stdio] })
        : spawn(TASKSET, ['-c', CPU, process.execPath, ...execArgv, CHILD, name, mode], { stdio: [...stdio] })
    child.on('message', (m) => {
      result = m as ChildResult
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      if (result !== undefined) resolve(result)
      else reject(new Error(`${mode} child for ${name} exited with code ${code} and no result`))
    })
  })
}

/** Joins the timing and the allocation halves of one subject. */
function merge(name: string, time: ChildResult, alloc: ChildResult): SubjectResult {
  const sizes = time.sizes.map((t): SizeResult => {
    const a = alloc.sizes.find((z) => z.n === t.n)
    const skipped = t.skipped ?? a?.skipped
    if (skipped !== undefined) return { n: t.n, skipped }
    const form = (k: number): FormResult | undefined => {
      const timing = t.timings?.[k]
      const al = a?.allocs?.[k]
      return timing === undefined || al === undefined ? undefined : { timing, alloc: al }
    }
    const acquire = form(0)
    const pick = form(1)
    const own = a?.tickAlloc
    return { n: t.n, ...(acquire && { acquire }), ...(pick && { pick }), ...(own && { ownAlloc: own }) }
  })
  return { name, sizes }
}

async function measure(name: string): Promise<SubjectResult> {
  const time = await runChild(name, 'time')
  if (time.sizes.every((z) => z.skipped !== undefined)) return { name, sizes: time.sizes }
  return merge(name, time, await runChild(name, 'alloc'))
}

interface Env {
  readonly node: string
  readonly cpus: number
  readonly cpu: string
  readonly pinnedCpu: string
  readonly seconds: number
}

function print(env: Env, results: readonly SubjectResult[]): void {
  console.log(
    `\n## pick() + release() — ${env.node}, ${env.cpus}× ${env.cpu}, children on CPU ${env.pinnedCpu}\n`,
  )
  console.log('Median ns/op over the repetitions, (min–max); † = a GC happened in every allocation window.\n')
  console.log(fullTable(results))
  console.log(`\n${matrix(results, 'acquire')}\n\n${matrix(results, 'pick')}\n\n${ringTable(results)}\n`)
  const allocs = allocating(results)
  if (allocs.length > 0) console.log(`Allocating without the clock:\n- ${allocs.join('\n- ')}\n`)
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => a !== '--')
  if (args.includes('--report')) {
    const saved = JSON.parse(readFileSync(`${OUT_DIR}pick.json`, 'utf8')) as {
      env: Env
      results: SubjectResult[]
    }
    print(saved.env, saved.results)
    return
  }
  const chosen = SUBJECTS.filter(
    (s) => args.length === 0 || s.name === FLOOR || args.some((f) => s.name.startsWith(f)),
  )
  const started = Date.now()
  const results: SubjectResult[] = []
  for (const s of chosen) {
    const t0 = Date.now()
    let r: SubjectResult
    try {
      r = await measure(s.name)
    } catch (err) {
      r = { name: s.name, sizes: [{ n: 0, skipped: (err as Error).message }] }
    }
    results.push(r)
    const skipped = r.sizes.find((z) => z.skipped !== undefined)?.skipped
    const note = skipped === undefined ? '' : ` — skipped: ${skipped}`
    console.error(`${s.name}: ${((Date.now() - t0) / 1000).toFixed(1)} s${note}`)
  }
  const env = {
    node: process.version,
    v8: process.versions.v8,
    cpu: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform} ${process.arch}`,
    execArgv: process.execArgv,
    allocExecArgv: ALLOC_FLAGS,
    pinnedCpu: TASKSET === undefined ? 'none' : CPU,
    reps: Number(process.env.BENCH_REPS ?? 5),
    date: new Date().toISOString(),
    seconds: Math.round((Date.now() - started) / 1000),
  }
  mkdirSync(OUT_DIR, { recursive: true })
  writeFileSync(`${OUT_DIR}pick.json`, `${JSON.stringify({ env, results }, null, 2)}\n`)
  print(env, results)
  console.log(`Wrote ${OUT_DIR}pick.json in ${env.seconds} s.`)
}

await main()

/**
 * The settings of the HTTP benchmark, from the environment and the command line (see run.ts for
 * the list). Unknown target or scenario names are an error, not an empty run.
 */
import { fileURLToPath } from 'node:url'
import { canPin } from '../tcp/system.js'
import { pick, SCENARIOS, type Scenario } from './scenarios.js'
import { NODE_TARGETS, type NodeTarget, TARGETS, type TargetName } from './targets.js'

export interface Options {
  readonly reps: number
  readonly seconds: number
  readonly proxyCpu: string | undefined
  readonly loadCpu: string | undefined
  readonly quietMs: number
  readonly retries: number
  /** nginx's upstream `keepalive` (BENCH_NGINX_KEEPALIVE, 256). */
  readonly nginxKeepalive: number
  readonly targets: readonly TargetName[]
  readonly scenarios: readonly Scenario[]
  /** Forced load generator, when BENCH_LOADGEN is set. */
  readonly loadGen: 'wrk' | 'autocannon' | undefined
  /** Run the Node targets from esbuild bundles (default) or under tsx. */
  readonly bundle: boolean
  readonly out: string
  readonly report: boolean
  /** The Node target to profile, when `--profile[=target]` is given. */
  readonly profile: NodeTarget | undefined
}

/** `--name=value` or `--name` (then `true`) from argv. */
function flag(args: readonly string[], name: string): string | true | undefined {
  for (const a of args) {
    if (a === `--${name}`) return true
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3)
  }
  return undefined
}

function text(v: string | true | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined
}

/** Reads the options; throws on a bad value. */
export function options(env = process.env, args = process.argv.slice(2).filter((a) => a !== '--')): Options {
  const num = (name: string, dflt: number) => {
    const v = Number(env[name] ?? dflt)
    if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a number ≥ 0, not ${env[name]}`)
    return v
  }
  const prof = flag(args, 'profile')
  const profile = prof === undefined ? undefined : prof === true ? 'fulcrum' : (prof as NodeTarget)
  if (profile !== undefined && !NODE_TARGETS.includes(profile))
    throw new Error(`--profile takes a Node target (${NODE_TARGETS.join(', ')}), not ${profile}`)
  const loadGen = env.BENCH_LOADGEN
  if (loadGen !== undefined && loadGen !== 'wrk' && loadGen !== 'autocannon')
    throw new Error(`BENCH_LOADGEN must be wrk or autocannon, not ${loadGen}`)
  return {
    reps: Math.floor(num('BENCH_REPS', 3)),
    seconds: num('BENCH_SECONDS', 5),
    proxyCpu: canPin ? (env.BENCH_PROXY_CPU ?? '0') : undefined,
    loadCpu: canPin ? (env.BENCH_LOAD_CPU ?? '1') : undefined,
    quietMs: num('BENCH_QUIET_MS', 60_000),
    retries: num('BENCH_RETRIES', 10),
    nginxKeepalive: Math.max(1, Math.floor(num('BENCH_NGINX_KEEPALIVE', 256))),
    targets: pick(TARGETS, (t) => t, text(flag(args, 'targets')) ?? env.BENCH_TARGETS, 'target'),
    scenarios: pick(SCENARIOS, (s) => s.id, text(flag(args, 'scenarios')) ?? env.BENCH_SCENARIOS, 'scenario'),
    loadGen,
    bundle: env.BENCH_BUNDLE !== '0',
    out: env.BENCH_OUT ?? fileURLToPath(new URL('../results/http.json', import.meta.url)),
    report: flag(args, 'report') !== undefined,
    profile,
  }
}

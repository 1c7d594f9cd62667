/**
 * The load generator of the HTTP benchmark, pinned to the load CPU: `wrk -t1 -c<n> -d<s>s
 * --latency` (parsed with bench/tcp's parser, plus its error counters), or, when wrk is missing,
 * autocannon through npx (`-j` JSON; a Node process, so it saturates sooner than wrk).
 */
import { parseWrk, run } from '../tcp/load.js'
import type { Scenario } from './scenarios.js'

/** Which generator to run: wrk at a path, or autocannon through npx. */
export type LoadGen = { readonly kind: 'wrk'; readonly path: string } | { readonly kind: 'autocannon' }

/** The autocannon release npx runs. */
export const AUTOCANNON = 'autocannon@8'

export interface LoadResult {
  readonly rps: number
  readonly requests: number
  readonly seconds: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** Responses that were not 2xx or 3xx. */
  readonly non2xx: number
  /** Socket errors (connect, read, write, timeout) summed. */
  readonly socketErrors: number
  /** The generator's error lines, when it reported any. */
  readonly errors?: string
}

/** wrk's `Non-2xx or 3xx responses: N` and `Socket errors: connect a, read b, write c, timeout d`. */
export function wrkCounts(text: string): { non2xx: number; socketErrors: number } {
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0)
  const m = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)
  const socketErrors = m === null ? 0 : m.slice(1, 5).reduce((a, b) => a + Number(b), 0)
  return { non2xx, socketErrors }
}

interface AutocannonJson {
  readonly requests: { readonly average: number; readonly total: number }
  readonly latency: { readonly p50: number; readonly p99: number }
  readonly duration: number
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
}

/** Runs one scenario for `seconds` against 127.0.0.1:port. */
export async function load(
  gen: LoadGen,
  cpu: string | undefined,
  port: number,
  scenario: Scenario,
  seconds: number,
): Promise<LoadResult> {
  const url = `http://127.0.0.1:${port}${scenario.path}`
  const c = String(scenario.connections)
  if (gen.kind === 'wrk') {
    const out = await run(
      cpu,
      gen.path,
      ['-t1', `-c${c}`, `-d${seconds}s`, '--latency', url],
      (seconds + 20) * 1000,
    )
    if (out.code !== 0) throw new Error(`wrk exited ${out.code}: ${out.stderr.slice(0, 300)}`)
    const parsed = parseWrk(out.stdout)
    return { ...parsed, ...wrkCounts(out.stdout) }
  }
  const args = ['-y', AUTOCANNON, '-c', c, '-d', String(seconds), '-j', url]
  const out = await run(cpu, 'npx', args, (seconds + 120) * 1000)
  let j: AutocannonJson
  try {
    j = JSON.parse(out.stdout) as AutocannonJson
  } catch {
    throw new Error(`autocannon printed no JSON (exit ${out.code}): ${out.stderr.slice(0, 300)}`)
  }
  const socketErrors = j.errors + j.timeouts
  return {
    rps: j.requests.average,
    requests: j.requests.total,
    seconds: j.duration,
    p50Ms: j.latency.p50,
    p99Ms: j.latency.p99,
    non2xx: j.non2xx,
    socketErrors,
    ...((j.non2xx > 0 || socketErrors > 0) && {
      errors: `non-2xx ${j.non2xx}, errors ${j.errors}, timeouts ${j.timeouts}`,
    }),
  }
}

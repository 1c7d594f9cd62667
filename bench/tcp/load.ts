/**
 * The load generators of the TCP benchmark, pinned to the load CPU: `iperf3 -c … -J` (throughput,
 * parsed from `end.sum_received`) and `wrk --latency` (small requests: requests/s and the p50/p99
 * of its latency distribution).
 */
import { spawnPinned } from './system.js'

export interface Output {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a pinned command to completion (killed after `timeoutMs`). */
export function run(cpu: string | undefined, cmd: string, args: readonly string[], timeoutMs: number) {
  return new Promise<Output>((resolve) => {
    const child = spawnPinned(cpu, cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

export interface IperfResult {
  /** Gbit/s received by the server (sum over streams). */
  readonly gbps: number
  /** Bytes received by the server. */
  readonly bytes: number
  readonly seconds: number
  /** TCP retransmits seen by the sender (0 on loopback, normally). */
  readonly retransmits: number
}

interface IperfJson {
  readonly error?: string
  readonly end?: {
    readonly sum_received?: { bytes: number; bits_per_second: number; seconds: number }
    readonly sum_sent?: { retransmits?: number }
  }
}

/** `iperf3 -c 127.0.0.1 -p port -t seconds -P parallel -J`; throws with iperf3's error. */
export async function iperf(
  iperf3: string,
  cpu: string | undefined,
  port: number,
  parallel: number,
  seconds: number,
): Promise<IperfResult> {
  const args = ['-c', '127.0.0.1', '-p', String(port), '-t', String(seconds), '-P', String(parallel), '-J']
  const out = await run(cpu, iperf3, args, (seconds + 20) * 1000)
  let json: IperfJson
  try {
    json = JSON.parse(out.stdout) as IperfJson
  } catch {
    throw new Error(`iperf3 printed no JSON (exit ${out.code}): ${out.stderr.slice(0, 300)}`)
  }
  const sum = json.end?.sum_received
  if (json.error !== undefined || sum === undefined)
    throw new Error(`iperf3: ${json.error ?? 'no sum_received'}`)
  return {
    gbps: sum.bits_per_second / 1e9,
    bytes: sum.bytes,
    seconds: sum.seconds,
    retransmits: json.end?.sum_sent?.retransmits ?? 0,
  }
}

export interface WrkResult {
  readonly rps: number
  readonly requests: number
  readonly seconds: number
  readonly p50Ms: number
  readonly p99Ms: number
  /** Socket errors and non-2xx responses, when wrk reported any. */
  readonly errors?: string
}

/** A wrk duration (`812.00us`, `1.20ms`, `2.00s`, `1.5m`) in ms. */
export function wrkMs(value: string, unit: string): number {
  const v = Number(value)
  return unit === 'us'
    ? v / 1000
    : unit === 'ms'
      ? v
      : unit === 's'
        ? v * 1000
        : unit === 'm'
          ? v * 60_000
          : v
}

/** Parses wrk's `--latency` report. */
export function parseWrk(text: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text)
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m),/.exec(text)
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text)
    return m === null ? Number.NaN : wrkMs(m[1]!, m[2]!)
  }
  if (rps === null || total === null)
    throw new Error(`wrk: no result in ${JSON.stringify(text.slice(0, 300))}`)
  const errs = [/Socket errors:[^\n]*/.exec(text)?.[0], /Non-2xx or 3xx responses:[^\n]*/.exec(text)?.[0]]
  const errors = errs.filter((e): e is string => e !== undefined).join('; ')
  return {
    rps: Number(rps[1]),
    requests: Number(total[1]),
    seconds: wrkMs(total[2]!, total[3]!) / 1000,
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    ...(errors !== '' && { errors }),
  }
}

/** `wrk -t1 -c<connections> -d<seconds>s --latency http://127.0.0.1:port/`. */
export async function wrk(
  wrkPath: string,
  cpu: string | undefined,
  port: number,
  connections: number,
  seconds: number,
): Promise<WrkResult> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}/`]
  const out = await run(cpu, wrkPath, args, (seconds + 20) * 1000)
  if (out.code !== 0) throw new Error(`wrk exited ${out.code}: ${out.stderr.slice(0, 300)}`)
  return parseWrk(out.stdout)
}

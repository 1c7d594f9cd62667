/**
 * The machine side of the TCP benchmark: which tools exist, spawning pinned processes with a raised
 * open-file limit, reading a process's CPU time and memory from /proc, per-CPU busy time, free
 * ports, and bundling a TypeScript child with the esbuild that tsx ships (so that proxy children
 * run as plain `node bundle.mjs`, without tsx's loader thread in their RSS or CPU time).
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs'
import net, { type AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

/** Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`; 100 on Linux). */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100

/** Absolute path of a command on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' })
  const path = r.stdout.trim()
  return r.status === 0 && path !== '' ? path : undefined
}

const TASKSET = which('taskset')

/**
 * Wraps a command so that it runs with the open-file limit raised as far as allowed (65 536, else
 * the hard limit) and, when taskset exists, pinned to `cpu`. bash and taskset both exec, so the
 * returned child's pid is the command's own.
 */
export function spawnPinned(
  cpu: string | undefined,
  cmd: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  const script = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"'
  const pin = cpu !== undefined && TASKSET !== undefined ? [TASKSET, '-c', cpu] : []
  return spawn('bash', ['-c', script, 'bash', ...pin, cmd, ...args], options)
}

/** Whether this process can pin children. */
export const canPin = TASKSET !== undefined

/** utime + stime of a process (all its threads) in seconds, and its minor page faults; NaN when gone. */
export function procStat(pid: number): { cpu: number; minflt: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { cpu: (Number(fields[11]) + Number(fields[12])) / CLK_TCK, minflt: Number(fields[7]) }
  } catch {
    return { cpu: Number.NaN, minflt: Number.NaN }
  }
}

/** utime + stime of a process (all its threads), in seconds; NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  return procStat(pid).cpu
}

export interface Memory {
  /** Resident set now, in KiB. */
  readonly rssKiB: number
  /** Peak resident set (VmHWM), in KiB. */
  readonly hwmKiB: number
}

/** VmRSS and VmHWM of a process. */
export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') }
}

/** Open file descriptors of a process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length
}

/** The soft "Max open files" limit of a process. */
export function nofileLimit(pid: number | 'self'): number {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8')
  return Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1] ?? Number.NaN)
}

/** The hard open-file limit children can be given (`ulimit -Hn` of a bash child). */
export function hardNofile(): number {
  return Number(execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim())
}

/** Kernel ephemeral port range (net.ipv4.ip_local_port_range). */
export function ephemeralPorts(): { low: number; high: number } {
  const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)
  return { low: Number(low), high: Number(high) }
}

/** CPU seconds and parent of every user-space process, by pid (kernel threads are left out). */
export function processTable(): Map<number, { ppid: number; cpu: number }> {
  const table = new Map<number, { ppid: number; cpu: number }>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const ppid = Number(f[1])
      if (ppid === 2 || name === '2') continue
      table.set(Number(name), { ppid, cpu: (Number(f[11]) + Number(f[12])) / CLK_TCK })
    } catch {}
  }
  return table
}

/**
 * CPU seconds used between two {@link processTable}s by processes outside `root`'s tree (this
 * benchmark): another job on the shared machine. Processes that ended in between are missed.
 */
export function foreignCpu(
  a: Map<number, { ppid: number; cpu: number }>,
  b: Map<number, { ppid: number; cpu: number }>,
  root = process.pid,
): number {
  const ours = new Set([root])
  for (let grew = true; grew; ) {
    grew = false
    for (const [pid, p] of b)
      if (!ours.has(pid) && ours.has(p.ppid)) {
        ours.add(pid)
        grew = true
      }
  }
  let sum = 0
  for (const [pid, p] of b) if (!ours.has(pid)) sum += p.cpu - (a.get(pid)?.cpu ?? 0)
  return sum
}

/** Busy and total jiffies of each CPU, from /proc/stat. */
export function cpuJiffies(): { busy: number; total: number }[] {
  const out: { busy: number; total: number }[] = []
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line)
    if (m === null) continue
    const v = m[2]!.split(/\s+/).map(Number)
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0)
    const idle = (v[3] ?? 0) + (v[4] ?? 0)
    out[Number(m[1])] = { busy: total - idle, total }
  }
  return out
}

/** Busy fraction of each CPU between two {@link cpuJiffies} readings. */
export function busyBetween(
  a: readonly { busy: number; total: number }[],
  b: readonly { busy: number; total: number }[],
): number[] {
  return b.map((x, i) => {
    const dt = x.total - (a[i]?.total ?? 0)
    return dt > 0 ? (x.busy - (a[i]?.busy ?? 0)) / dt : 0
  })
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Whether something listens on 127.0.0.1:port (read from /proc/net/tcp, without connecting). */
export function listening(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/)
    if (f[3] === '0A' && (f[1] === `0100007F${hex}` || f[1] === `00000000${hex}`)) return true
  }
  return false
}

/**
 * Resolves once 127.0.0.1:port is in LISTEN state; throws after `timeoutMs`. No probe connection:
 * one through a proxy would reach the iperf3 server and disturb its next test.
 */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!listening(port)) {
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`)
    await sleep(20)
  }
}

/** Sends SIGTERM (then SIGKILL after `graceMs`) and waits for the exit. */
export async function stopProcess(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/**
 * Bundles `entry` (a .ts file) into `outfile` as ESM for node, resolving workspace packages to
 * their sources. Returns false (and the caller runs the .ts under tsx instead) when esbuild is not
 * found or fails.
 */
export function bundle(entry: string, outfile: string): boolean {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
  const candidates: string[] = []
  try {
    candidates.push(join(realpathSync(join(root, 'node_modules', 'tsx')), '..', 'esbuild', 'bin', 'esbuild'))
  } catch {}
  const esbuild = candidates.find((p) => existsSync(p))
  if (esbuild === undefined) return false
  const r = spawnSync(
    esbuild,
    [
      entry,
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--target=node20',
      '--conditions=@fulcrum/source',
      '--log-level=warning',
      `--outfile=${outfile}`,
    ],
    { encoding: 'utf8' },
  )
  if (r.status !== 0) console.error(`esbuild failed (${r.status}): ${r.stderr}`)
  return r.status === 0
}

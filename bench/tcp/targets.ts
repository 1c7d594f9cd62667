/**
 * Starting and stopping the L4 targets of the TCP benchmark (each in a process of its own, pinned
 * to the proxy CPU) and the native backends (pinned to the load CPU).
 */
import type { ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { haproxyConfig, type Listener, nginxHttpConfig, nginxStreamConfig } from './configs.js'
import { spawnPinned, stopProcess, waitForPort } from './system.js'

export type TargetName =
  | 'direct'
  | 'pipe'
  | 'fulcrum'
  | 'haproxy'
  | 'nginx'
  | 'pipe-notrim'
  | 'fulcrum-notrim'
  | 'fulcrum-base'
export const TARGETS: readonly TargetName[] = [
  'direct',
  'pipe',
  'fulcrum',
  'haproxy',
  'nginx',
  'pipe-notrim',
  'fulcrum-notrim',
  'fulcrum-base',
]

/**
 * `fulcrum-base` (A/B diagnostic) runs another esbuild bundle of proxy-child.ts, for instance one
 * built from the previous commit, as `fulcrum` in the same repetitions: its path is in this env var.
 */
export const BASE_BUNDLE = process.env.BENCH_BASE_BUNDLE

/**
 * The diagnostic variants `pipe-notrim` and `fulcrum-notrim` run with this environment: glibc then
 * keeps freed heap instead of returning it to the kernel (trim threshold 256 MiB instead of 128 KiB),
 * so Node's 64 KiB read buffers do not land on freshly faulted pages (throughput only).
 */
export const NOTRIM_ENV = { GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=268435456' }

/** A running process: its pid (the one whose /proc we read) and how to stop it. */
export interface Running {
  readonly pid: number
  readonly stderr: () => string
  stop(): Promise<void>
}

export interface StartContext {
  /** Temp dir for configs, logs and profiles. */
  readonly dir: string
  /** CPU to pin to (undefined: no pinning). */
  readonly cpu: string | undefined
  /** The esbuild bundle of proxy-child.ts, or undefined to run the .ts under tsx. */
  readonly bundle: string | undefined
  readonly haproxy: string | undefined
  readonly nginx: string | undefined
  /** How nginx gets `stream` (see nginxStream()), undefined when it cannot. */
  readonly nginxStream: string | undefined
  /** Client connections the native proxies allow (HAProxy maxconn; nginx gets twice the worker_connections). */
  readonly maxconn: number
  /** The bundle `fulcrum-base` runs (BENCH_BASE_BUNDLE), undefined when not set. */
  readonly baseBundle?: string | undefined
  /** Write a V8 CPU profile into this dir (Node targets only). */
  readonly cpuProfDir?: string
}

const CHILD_TS = fileURLToPath(new URL('./proxy-child.ts', import.meta.url))

function collectStderr(child: ChildProcess): () => string {
  let err = ''
  child.stderr?.on('data', (d: Buffer) => {
    if (err.length < 10_000) err += d.toString()
  })
  return () => err
}

function exitError(child: ChildProcess, what: string, stderr: () => string): Promise<never> {
  return new Promise((_, reject) =>
    child.once('exit', (code, signal) =>
      reject(new Error(`${what} exited (${code ?? signal}) before it was ready: ${stderr().slice(0, 500)}`)),
    ),
  )
}

/** Starts a native server and waits until every port accepts. */
export async function startNative(
  what: string,
  cpu: string | undefined,
  cmd: string,
  args: readonly string[],
  ports: readonly number[],
): Promise<Running> {
  const child = spawnPinned(cpu, cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  const stderr = collectStderr(child)
  const failed = exitError(child, what, stderr)
  failed.catch(() => {})
  await Promise.race([Promise.all(ports.map((p) => waitForPort(p))), failed])
  return { pid: child.pid!, stderr, stop: () => stopProcess(child) }
}

async function startNode(
  kind: 'pipe' | 'fulcrum',
  listeners: readonly Listener[],
  ctx: StartContext,
  env: Record<string, string> = {},
  bundle: string | undefined = ctx.bundle,
) {
  const prof = ctx.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${ctx.cpuProfDir}`]
  const json = JSON.stringify(listeners)
  const args =
    bundle === undefined
      ? [...prof, '--conditions=@fulcrum/source', '--import', 'tsx', CHILD_TS, kind, json]
      : [...prof, bundle, kind, json]
  const child = spawnPinned(ctx.cpu, process.execPath, args, {
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, ...env },
  })
  const stderr = collectStderr(child)
  const failed = exitError(child, kind, stderr)
  failed.catch(() => {})
  const ready = new Promise<void>((resolve) => child.on('message', () => resolve()))
  await Promise.race([ready, failed])
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.send('exit')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    await exited
    clearTimeout(timer)
  }
  return { pid: child.pid!, stderr, stop }
}

/**
 * Starts an L4 target with these listeners. `direct` has no process (undefined); a target whose
 * tool is missing throws with the reason, which run.ts records as a skip.
 */
export async function startTarget(
  name: TargetName,
  listeners: readonly Listener[],
  ctx: StartContext,
  tag: string,
): Promise<Running | undefined> {
  const ports = listeners.map((l) => l.port)
  switch (name) {
    case 'direct':
      return undefined
    case 'pipe':
    case 'fulcrum':
      return startNode(name, listeners, ctx)
    case 'pipe-notrim':
      return startNode('pipe', listeners, ctx, NOTRIM_ENV)
    case 'fulcrum-notrim':
      return startNode('fulcrum', listeners, ctx, NOTRIM_ENV)
    case 'fulcrum-base':
      if (ctx.baseBundle === undefined) throw new Error('BENCH_BASE_BUNDLE not set')
      return startNode('fulcrum', listeners, ctx, {}, ctx.baseBundle)
    case 'haproxy': {
      if (ctx.haproxy === undefined) throw new Error('haproxy not found')
      const cfg = join(ctx.dir, `haproxy-${tag}.cfg`)
      writeFileSync(cfg, haproxyConfig(listeners, ctx.maxconn))
      return startNative('haproxy', ctx.cpu, ctx.haproxy, ['-f', cfg, '-db'], ports)
    }
    case 'nginx': {
      if (ctx.nginx === undefined) throw new Error('nginx not found')
      if (ctx.nginxStream === undefined) throw new Error('nginx has no stream module (libnginx-mod-stream)')
      const cfg = join(ctx.dir, `nginx-${tag}.conf`)
      writeFileSync(cfg, nginxStreamConfig(ctx.dir, listeners, ctx.maxconn, ctx.nginxStream))
      return startNative(
        'nginx stream',
        ctx.cpu,
        ctx.nginx,
        ['-p', ctx.dir, '-e', `${ctx.dir}/error.log`, '-c', cfg],
        ports,
      )
    }
  }
}

/** nginx http serving `ok` on these ports (the small-request backend). */
export async function startHttpBackend(nginx: string, dir: string, cpu: string | undefined, ports: number[]) {
  const cfg = join(dir, 'nginx-backend.conf')
  writeFileSync(cfg, nginxHttpConfig(dir, ports))
  return startNative(
    'nginx http backend',
    cpu,
    nginx,
    ['-p', dir, '-e', `${dir}/error.log`, '-c', cfg],
    ports,
  )
}

/** `iperf3 -s` on 127.0.0.1:port (the throughput backend). */
export async function startIperfServer(iperf3: string, cpu: string | undefined, port: number) {
  return startNative('iperf3 -s', cpu, iperf3, ['-s', '-B', '127.0.0.1', '-p', String(port)], [port])
}

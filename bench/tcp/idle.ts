/**
 * Idle connections: `n` client connections (2n sockets in the proxy) held open through one target
 * in front of a backend that accepts and holds them. The target is a fresh process (its baseline
 * RSS is that of an idle proxy); its VmRSS and VmHWM are read from /proc after every connection
 * has reached the backend. The holder and the client run on the load CPU, each a process of its
 * own with a new backend port per target (no TIME_WAIT left over from the previous target).
 */
import type { ChildProcess } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { fdCount, freePort, memoryOf, nofileLimit, spawnPinned } from './system.js'
import { type Running, type StartContext, startTarget, type TargetName } from './targets.js'

const AUX_CHILD = fileURLToPath(new URL('./aux-child.ts', import.meta.url))

export interface IdleResult {
  readonly target: TargetName
  /** Client connections asked for. */
  readonly connections: number
  /** Connections the backend held at the measurement (each one is 2 sockets in the proxy). */
  readonly held: number
  readonly seconds: number
  readonly fdLimit: number
  readonly fdsBaseline: number
  readonly fdsHeld: number
  readonly baselineRssKiB: number
  readonly heldRssKiB: number
  readonly peakRssKiB: number
  /** (peak RSS − baseline RSS) / held, in KiB. */
  readonly peakKiBPerConnection: number
  /** (RSS while holding − baseline RSS) / held, in KiB. */
  readonly heldKiBPerConnection: number
  /** baseline + 10 000 × peak KiB per connection, in MiB. */
  readonly projectedPeakMiBAt10k: number
  readonly clientErrors: number
  readonly firstError?: string
}

export function loadChild(cpu: string | undefined, args: readonly string[]): ChildProcess {
  return spawnPinned(cpu, process.execPath, [...process.execArgv, AUX_CHILD, ...args], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
}

export function nextMessage<T>(child: ChildProcess, key: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${key}' from child in ${timeoutMs} ms`)), timeoutMs)
    const onMessage = (m: unknown) => {
      if (typeof m !== 'object' || m === null || !(key in m)) return
      clearTimeout(timer)
      child.off('message', onMessage)
      resolve(m as T)
    }
    child.on('message', onMessage)
  })
}

export async function exitChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.send('exit')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

/** Runs the idle test on one target; `ctx.cpu` is the proxy CPU. */
export async function idleTest(
  target: TargetName,
  n: number,
  ctx: StartContext,
  loadCpu: string | undefined,
): Promise<IdleResult> {
  const holder = loadChild(loadCpu, ['hold'])
  let opener: ChildProcess | undefined
  let proxy: Running | undefined
  try {
    const { port: backendPort } = await nextMessage<{ port: number }>(holder, 'port', 10_000)
    const port = await freePort()
    const listener = { port, backends: [{ host: '127.0.0.1', port: backendPort }] }
    proxy = await startTarget(target, [listener], ctx, `idle-${target}`)
    if (proxy === undefined) throw new Error('the idle test needs a proxy process')
    const pid = proxy.pid
    await sleep(1_000)
    const base = memoryOf(pid)
    const fdsBaseline = fdCount(pid)
    const t0 = performance.now()
    opener = loadChild(loadCpu, ['open', String(port), String(n), '200'])
    const done = await nextMessage<{ opened: number; errors: number; firstError?: string }>(
      opener,
      'opened',
      120_000,
    )
    let held = 0
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(200)) {
      holder.send('count')
      held = (await nextMessage<{ count: number }>(holder, 'count', 5_000)).count
      if (held >= done.opened) break
    }
    const seconds = (performance.now() - t0) / 1000
    await sleep(2_000)
    const mem = memoryOf(pid)
    const fdsHeld = fdCount(pid)
    const per = (kib: number) => (held > 0 ? (kib - base.rssKiB) / held : Number.NaN)
    return {
      target,
      connections: n,
      held,
      seconds,
      fdLimit: nofileLimit(pid),
      fdsBaseline,
      fdsHeld,
      baselineRssKiB: base.rssKiB,
      heldRssKiB: mem.rssKiB,
      peakRssKiB: mem.hwmKiB,
      peakKiBPerConnection: per(mem.hwmKiB),
      heldKiBPerConnection: per(mem.rssKiB),
      projectedPeakMiBAt10k: (base.rssKiB + 10_000 * per(mem.hwmKiB)) / 1024,
      clientErrors: done.errors,
      ...(done.firstError !== undefined && { firstError: done.firstError }),
    }
  } finally {
    if (opener !== undefined) await exitChild(opener)
    await proxy?.stop()
    await exitChild(holder)
  }
}

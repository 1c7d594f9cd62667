/**
 * Making sure that no process of the HTTP benchmark outlives it: on exit, however it happens (an
 * error, Ctrl-C, SIGTERM), every process still running below this one (proxies, origins, wrk) is
 * killed by pid, then the given exit hooks run (removing the temp dir).
 */
import { processTable } from '../tcp/system.js'

/** Pids of the processes below `root` (its children, theirs, and so on). */
export function descendants(root: number, table = processTable()): number[] {
  const found = new Set([root])
  for (let grew = true; grew; ) {
    grew = false
    for (const [pid, p] of table)
      if (!found.has(pid) && found.has(p.ppid)) {
        found.add(pid)
        grew = true
      }
  }
  found.delete(root)
  return [...found]
}

/** Kills every process below this one with SIGKILL (synchronous, so that it works in `exit`). */
export function killDescendants(): number {
  const pids = descendants(process.pid)
  for (const pid of pids)
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  return pids.length
}

/** Installs the exit and signal handlers (once); `hooks` run synchronously after the kill. */
export function installCleanup(log: (msg: string) => void, ...hooks: (() => void)[]): void {
  process.on('exit', () => {
    killDescendants()
    for (const hook of hooks)
      try {
        hook()
      } catch {}
  })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.once(signal, () => {
      log(`${signal}: stopping ${killDescendants()} processes`)
      process.exit(130)
    })
}

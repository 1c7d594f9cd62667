import {
  type Backend,
  type BackendStateEvent,
  type Balancer,
  type BalancerOptions,
  createBalancer,
  type HealthCheck,
  type HealthCheckEvent,
  InvalidOptionError,
} from '@fulcrum/core'
import { seededRandom, VirtualClock } from '@fulcrum/testing'

/** Backend specs with ids `b0` … `b{n-1}` (nothing listens there: for virtual-clock tests). */
export function specs(n: number): { id: string; host: string; port: number }[] {
  return Array.from({ length: n }, (_, i) => ({ id: `b${i}`, host: '127.0.0.1', port: 9000 + i }))
}

/** A deterministic balancer over `n` backends with `check`, recording state and check events. */
export function virtual(
  n: number,
  check: HealthCheck,
  options: BalancerOptions = {},
): { lb: Balancer; clock: VirtualClock; states: BackendStateEvent[]; checks: HealthCheckEvent[] } {
  const clock = new VirtualClock()
  const lb = createBalancer(options)
    .backends(specs(n))
    .clock(clock)
    .random(seededRandom(1))
    .health(check)
    .build()
  const states: BackendStateEvent[] = []
  const checks: HealthCheckEvent[] = []
  lb.on('backend:state', (e) => states.push(e))
  lb.on('health:check', (e) => checks.push(e))
  return { lb, clock, states, checks }
}

/** One scripted result: pass, fail (`false`), throw, or hang until aborted. */
export type Step = true | false | 'throw' | 'hang'

/**
 * A check function that plays `script` per backend (the last step repeats), and records the clock
 * time of every call, the signals it was given and how many calls ran at once.
 */
export function scripted(
  clock: { now(): number },
  script: readonly Step[] | ((backend: Backend, call: number) => Step),
): {
  fn: (backend: Backend, signal: AbortSignal) => Promise<boolean>
  calls: Map<string, number[]>
  signals: AbortSignal[]
  maxConcurrent: () => number
} {
  const calls = new Map<string, number[]>()
  const signals: AbortSignal[] = []
  const running = new Map<string, number>()
  let max = 0
  const fn = async (backend: Backend, signal: AbortSignal): Promise<boolean> => {
    const times = calls.get(backend.id) ?? []
    calls.set(backend.id, times)
    times.push(clock.now())
    signals.push(signal)
    const step =
      typeof script === 'function'
        ? script(backend, times.length - 1)
        : script[Math.min(times.length - 1, script.length - 1)]!
    const now = (running.get(backend.id) ?? 0) + 1
    running.set(backend.id, now)
    max = Math.max(max, now)
    try {
      if (step === 'throw') throw new Error('scripted failure')
      if (step === 'hang')
        await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
      return step as boolean
    } finally {
      running.set(backend.id, running.get(backend.id)! - 1)
    }
  }
  return { fn, calls, signals, maxConcurrent: () => max }
}

/** The option path of the `InvalidOptionError` `fn` throws (fails the test when it throws nothing else). */
export function errorPath(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    if (!(err instanceof InvalidOptionError)) throw err
    return err.path
  }
  return undefined
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `condition` every 5 ms (real time) until it holds; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

/**
 * Example 07: one incident — a backend of four dies at t = 10 s and comes back at t = 40 s — replayed
 * under several health and failover configurations with `simulate()`, and what each one cost.
 */
import { circuitBreaker } from '@fulcrum/breaker'
import { type BalancerBuilder, createBalancer } from '@fulcrum/core'
import { fnCheck, outlierDetection } from '@fulcrum/health'
import { logNormal, probeSimulated, type SimulatedBackendSpec, simulate } from '@fulcrum/testing'

/** The incident every scenario replays. */
export const INCIDENT = {
  backends: ['a', 'b', 'c', 'd'],
  /** The backend that dies in most scenarios. */
  victim: 'c',
  rps: 500,
  durationMs: 60_000,
  dieAt: 10_000,
  recoverAt: 40_000,
  seed: 42,
} as const

/** An active check's timing, for the bounds the test asserts. */
export interface ActiveTiming {
  readonly intervalMs: number
  readonly rise: number
  readonly fall: number
  readonly jitter: number
}

/** One configuration under test. */
export interface Scenario {
  readonly key: string
  readonly label: string
  /**
   * A fresh builder per run: health checks, outlier detectors and breakers each serve one balancer,
   * so they are created here, not shared.
   */
  readonly balancer: () => BalancerBuilder
  /** Every backend dies (else only the victim). @default false */
  readonly allDie?: boolean
  /** The active check's timing, when the scenario has one. */
  readonly active?: ActiveTiming
}

const RETRIES = { retries: 2 }
const activeTiming = (intervalMs: number): ActiveTiming => ({ intervalMs, rise: 2, fall: 3, jitter: 0.1 })
const active = (t: ActiveTiming) =>
  fnCheck(probeSimulated, { intervalMs: t.intervalMs, rise: t.rise, fall: t.fall, jitter: t.jitter })
const oneSecond = activeTiming(1_000)
const fiveSeconds = activeTiming(5_000)

/**
 * The configurations compared. Every one but (c) sets `maxFails: 0` (or gets it from outlier
 * detection), so that each row shows one mechanism on its own; (c) is a default balancer.
 */
export const SCENARIOS: readonly Scenario[] = [
  { key: 'a', label: 'nothing (maxFails: 0)', balancer: () => createBalancer({ maxFails: 0 }) },
  { key: 'b', label: 'retries: 2', balancer: () => createBalancer({ maxFails: 0 }).retry(RETRIES) },
  { key: 'c', label: 'maxFails 3 / 10 s (default)', balancer: () => createBalancer() },
  {
    key: 'd',
    label: 'outlier detection',
    balancer: () => createBalancer().health(outlierDetection({ consecutiveFailures: 5 })),
  },
  {
    key: 'e',
    label: 'outlier detection + retries',
    balancer: () =>
      createBalancer()
        .health(outlierDetection({ consecutiveFailures: 5 }))
        .retry(RETRIES),
  },
  {
    key: 'f1',
    label: 'active check 1 s + retries',
    balancer: () => createBalancer({ maxFails: 0 }).health(active(oneSecond)).retry(RETRIES),
    active: oneSecond,
  },
  {
    key: 'f5',
    label: 'active check 5 s + retries',
    balancer: () => createBalancer({ maxFails: 0 }).health(active(fiveSeconds)).retry(RETRIES),
    active: fiveSeconds,
  },
  {
    key: 'g',
    label: 'circuit breaker + retries',
    balancer: () => createBalancer({ maxFails: 0 }).use(circuitBreaker()).retry(RETRIES),
  },
  {
    key: 'h1',
    label: 'all die: active 1 s + retries, panic 0.5',
    balancer: () => createBalancer({ maxFails: 0 }).health(active(oneSecond)).retry(RETRIES),
    allDie: true,
    active: oneSecond,
  },
  {
    key: 'h2',
    label: 'all die: active 1 s + retries, panic off',
    balancer: () =>
      createBalancer({ maxFails: 0, panicThreshold: 0 }).health(active(oneSecond)).retry(RETRIES),
    allDie: true,
    active: oneSecond,
  },
  {
    key: 'i',
    label: 'outlier + active 5 s + retries',
    balancer: () =>
      createBalancer()
        .health(outlierDetection({ consecutiveFailures: 5 }))
        .health(active(fiveSeconds))
        .retry(RETRIES),
    active: fiveSeconds,
  },
]

/** What one scenario cost; times are in ms after the crash (or the recovery), `undefined` for never. */
export interface ScenarioResult {
  readonly key: string
  readonly label: string
  /** Requests sent, and how many failed after retries. */
  readonly requests: number
  readonly failed: number
  /** Requests that arrived during the outage, and how many of them failed. */
  readonly outageRequests: number
  readonly outageFailed: number
  /** The dead backends' share of all attempts started during the outage. */
  readonly outageShare: number
  /** Attempts started on the dead backends during the outage. */
  readonly outageAttempts: number
  /** Failed attempts on the dead backends, over the whole run. */
  readonly deadFailures: number
  /** Last attempt on a dead backend before a gap of 1 s without any: when traffic to it stopped. */
  readonly cutOffMs: number | undefined
  /** When a health source (`backend:state` → unhealthy) or a breaker (`breaker:state` → open) took it out. */
  readonly markedDownMs: number | undefined
  /** First successful attempt on the recovered backend after the recovery. */
  readonly backMs: number | undefined
  readonly retries: number
  readonly retriesDenied: number
  /** Client-visible errors by code. */
  readonly errors: Readonly<Record<string, number>>
}

/** A gap this long without attempts on the dead backends means the balancer stopped sending. */
const CUT_OFF_GAP_MS = 1_000

/** Variations of the incident. */
export interface RunOptions {
  /** @default INCIDENT.seed */
  readonly seed?: number
  /** When the dead backends come back, in ms. @default INCIDENT.recoverAt */
  readonly recoverAt?: number
}

/** Runs one scenario on the incident and measures it. */
export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<ScenarioResult> {
  const { dieAt } = INCIDENT
  const { seed = INCIDENT.seed, recoverAt = INCIDENT.recoverAt } = options
  const victims: readonly string[] = scenario.allDie ? INCIDENT.backends : [INCIDENT.victim]
  const crash = [
    { at: dieAt, die: true as const },
    { at: recoverAt, recover: true as const },
  ]
  const backends: SimulatedBackendSpec[] = INCIDENT.backends.map((id) => ({
    id,
    latency: logNormal(10, 0.3),
    ...(victims.includes(id) ? { events: crash } : {}),
  }))
  const attemptsAt: number[] = [] // start times of attempts on dead backends during the outage
  const downAt = new Map<string, number>()
  const backAt = new Map<string, number>()
  const report = await simulate({
    balancer: scenario.balancer(),
    backends,
    load: { rps: INCIDENT.rps },
    durationMs: INCIDENT.durationMs,
    seed,
    actions: [
      {
        at: 0,
        run: (lb) => {
          const down = (id: string): void => {
            if (victims.includes(id) && lb.clock.now() >= dieAt && !downAt.has(id))
              downAt.set(id, lb.clock.now())
          }
          lb.on('request:end', ({ backend, outcome, startedAt }) => {
            if (!victims.includes(backend.id)) return
            if (startedAt >= dieAt && startedAt < recoverAt) attemptsAt.push(startedAt)
            if (outcome.ok && startedAt >= recoverAt && !backAt.has(backend.id))
              backAt.set(backend.id, startedAt)
          })
          lb.on('backend:state', (e) => {
            if (e.to === 'unhealthy') down(e.backend.id)
          })
          lb.on('breaker:state', (e) => {
            if (e.to === 'open') down(e.backend.id)
          })
        },
      },
    ],
  })
  const outage = report.timeline.filter((b) => b.t >= dieAt && b.t < recoverAt)
  let all = 0
  let dead = 0
  for (const b of outage)
    for (const [id, s] of Object.entries(b.perBackend)) {
      all += s.attempts
      if (victims.includes(id)) dead += s.attempts
    }
  const latest = (m: Map<string, number>, from: number): number | undefined =>
    victims.every((id) => m.has(id)) ? Math.max(...victims.map((id) => m.get(id)!)) - from : undefined
  return {
    key: scenario.key,
    label: scenario.label,
    requests: report.requests.total,
    failed: report.requests.failed,
    outageRequests: outage.reduce((n, b) => n + b.requests, 0),
    outageFailed: outage.reduce((n, b) => n + b.failed, 0),
    outageShare: all === 0 ? 0 : dead / all,
    outageAttempts: dead,
    deadFailures: victims.reduce((n, id) => n + report.backends[id]!.failures, 0),
    cutOffMs: cutOff(attemptsAt, dieAt, recoverAt),
    markedDownMs: latest(downAt, dieAt),
    backMs: latest(backAt, recoverAt),
    retries: report.requests.retries,
    retriesDenied: report.requests.retriesDenied,
    errors: report.requests.errors,
  }
}

/** The last attempt before the first gap of `CUT_OFF_GAP_MS` (the end of the outage counts as one). */
function cutOff(starts: number[], dieAt: number, recoverAt: number): number | undefined {
  starts.sort((x, y) => x - y)
  let last = dieAt
  for (const t of starts) {
    if (t - last >= CUT_OFF_GAP_MS) return last - dieAt
    last = t
  }
  return recoverAt - last >= CUT_OFF_GAP_MS ? last - dieAt : undefined
}

/** Runs the scenarios with these keys (all by default), one after the other. */
export async function runAll(keys?: readonly string[], options: RunOptions = {}): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = []
  for (const s of SCENARIOS)
    if (keys === undefined || keys.includes(s.key)) results.push(await runScenario(s, options))
  return results
}

function duration(ms: number | undefined): string {
  if (ms === undefined) return 'never'
  return ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1_000).toFixed(1)} s`
}

const percent = (x: number): string => (x > 0 && x < 0.001 ? '< 0.1 %' : `${(100 * x).toFixed(1)} %`)

/** The results as a Markdown table. */
export function formatTable(results: readonly ScenarioResult[]): string {
  const head = [
    'configuration',
    'failed (share)',
    'failed in outage',
    'dead share in outage',
    'cut off after',
    'marked down after',
    'serving again after',
    'retries (denied)',
  ]
  const rows = results.map((r) => [
    `(${r.key}) ${r.label}`,
    `${r.failed} (${percent(r.failed / r.requests)})`,
    `${percent(r.outageRequests === 0 ? 0 : r.outageFailed / r.outageRequests)}`,
    percent(r.outageShare),
    duration(r.cutOffMs),
    r.markedDownMs === undefined ? '—' : duration(r.markedDownMs),
    duration(r.backMs),
    `${r.retries} (${r.retriesDenied})`,
  ])
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n')
}

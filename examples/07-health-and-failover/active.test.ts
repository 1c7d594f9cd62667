import { beforeAll, describe, expect, it } from 'vitest'
import { runAll, SCENARIOS, type ScenarioResult } from './scenarios.js'

// One of three files, so that vitest runs the scenarios in parallel; each file takes a few seconds.
let r: Record<string, ScenarioResult>
beforeAll(async () => {
  r = Object.fromEntries((await runAll(['f1', 'f5', 'g', 'i'])).map((x) => [x.key, x]))
})

const timing = (key: string) => SCENARIOS.find((s) => s.key === key)!.active!

describe('example 07: a backend dies, active checks and breakers', () => {
  it.each(['f1', 'f5'])(
    '(%s) an active check marks it down after fall checks and up after rise checks',
    (key) => {
      const { intervalMs, rise, fall, jitter } = timing(key)
      const x = r[key]!
      const period = intervalMs * (1 + jitter)
      // The first failing check comes within one period of the crash, then one per period.
      expect(x.markedDownMs).toBeGreaterThan((fall - 1) * intervalMs)
      expect(x.markedDownMs).toBeLessThanOrEqual(fall * period + 50)
      expect(x.cutOffMs).toBeCloseTo(x.markedDownMs!, -2)
      // Back after rise passed checks (each a 10 ms probe), and traffic follows at once.
      expect(x.backMs).toBeGreaterThan((rise - 1) * intervalMs)
      expect(x.backMs).toBeLessThanOrEqual(rise * period + 200)
    },
  )

  it('(f1) with 1 s checks, retries hide the outage; (f5) with 5 s checks the retry budget runs out first', () => {
    const { f1, f5 } = r
    expect(f1!.failed).toBe(0)
    expect(f5!.retriesDenied).toBeGreaterThan(0)
    expect(f5!.failed).toBe(f5!.retriesDenied)
    expect(f5!.outageShare).toBeGreaterThan(f1!.outageShare)
  })

  it('(g) a circuit breaker opens after 5 failures; its doubling backoff keeps the backend out past the recovery', () => {
    const { g } = r
    expect(g!.failed).toBe(0)
    expect(g!.markedDownMs).toBeLessThan(100)
    expect(g!.outageAttempts).toBeLessThan(30) // 5 failures, then one probe per backoff
    expect(g!.backMs === undefined || g!.backMs > 10_000).toBe(true)
  })

  it('(i) outlier detection cuts off at once; the active check keeps it out until it passes rise checks', () => {
    const { i } = r
    const { intervalMs, rise } = timing('i')
    expect(i!.failed).toBe(0)
    expect(i!.markedDownMs).toBeLessThan(100)
    expect(i!.backMs).toBeGreaterThan((rise - 1) * intervalMs)
  })
})

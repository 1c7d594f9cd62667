import { beforeAll, describe, expect, it } from 'vitest'
import { LONGER_OUTAGE } from './run.js'
import { runAll, SCENARIOS, type ScenarioResult } from './scenarios.js'

// One of three files, so that vitest runs the scenarios in parallel; each file takes a few seconds.
let r: Record<string, ScenarioResult>
let longer: Record<string, ScenarioResult>
beforeAll(async () => {
  r = Object.fromEntries((await runAll(['h1', 'h2'])).map((x) => [x.key, x]))
  longer = Object.fromEntries(
    (await runAll(['d', 'i'], { recoverAt: LONGER_OUTAGE.recoverAt })).map((x) => [x.key, x]),
  )
})

describe('example 07: every backend dies', () => {
  it('fails every request of the outage, with or without panic mode', () => {
    // All but the few that arrived in the last milliseconds, and whose retry found a backend back.
    for (const x of [r.h1!, r.h2!]) expect(x.outageFailed).toBeGreaterThanOrEqual(x.outageRequests - 5)
  })

  it('(h1) panic mode keeps routing to all, so service resumes the moment they recover', () => {
    const { h1 } = r
    expect(h1!.cutOffMs).toBeUndefined()
    expect(h1!.backMs).toBeLessThan(100)
  })

  it('(h2) without panic mode, picks fail fast until the active check has seen rise passes', () => {
    const { h1, h2 } = r
    const { intervalMs, rise } = SCENARIOS.find((s) => s.key === 'h2')!.active!
    expect(h2!.errors.FULCRUM_ERR_NO_BACKEND).toBeGreaterThan(0)
    expect(h2!.backMs).toBeGreaterThan((rise - 1) * intervalMs)
    expect(h2!.failed).toBeGreaterThan(h1!.failed)
  })
})

describe('example 07: a longer outage (recovery at 45 s)', () => {
  it('(d) outlier detection returns the backend after 30 s while still dead, fails again, ejects it for 60 s', () => {
    const d = longer.d!
    expect(d.markedDownMs).toBeLessThan(100)
    expect(d.failed).toBeGreaterThanOrEqual(2 * 5) // two rounds of 5 consecutive failures
    expect(d.backMs).toBeUndefined() // the second ejection outlasts the run
  })

  it('(i) with an active check too, the backend stays out until it passes: no failure', () => {
    expect(longer.i!.failed).toBe(0)
    expect(longer.i!.backMs).toBeDefined()
  })
})

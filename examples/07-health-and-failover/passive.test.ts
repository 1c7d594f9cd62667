import { beforeAll, describe, expect, it } from 'vitest'
import { INCIDENT, runAll, type ScenarioResult } from './scenarios.js'

// One of three files, so that vitest runs the scenarios in parallel; each file takes a few seconds.
let r: Record<string, ScenarioResult>
beforeAll(async () => {
  r = Object.fromEntries((await runAll(['a', 'b', 'c', 'd', 'e'])).map((x) => [x.key, x]))
})

const n = INCIDENT.backends.length

describe('example 07: a backend dies, passive mechanisms', () => {
  it('(a) without anything, every attempt on the dead backend fails a request, and p2c sends it more than 1/n', () => {
    const { a } = r
    expect(a!.failed).toBe(a!.deadFailures)
    expect(a!.failed).toBeGreaterThanOrEqual(a!.outageAttempts)
    // A backend that refuses in 1 ms holds no requests, so least-request picks it whenever it can.
    expect(a!.outageShare).toBeGreaterThan(1 / n + 0.05)
    expect(a!.outageFailed / a!.outageRequests).toBeGreaterThan(1 / n)
    expect(a!.cutOffMs).toBeUndefined()
  })

  it('(b) retries alone hide only what the retry budget allows: every failure is a denied retry', () => {
    const { a, b } = r
    expect(b!.retriesDenied).toBeGreaterThan(0)
    expect(b!.failed).toBe(b!.retriesDenied)
    expect(b!.failed).toBeLessThan(a!.failed)
    expect(b!.cutOffMs).toBeUndefined()
  })

  it('(c) core maxFails cuts the dead backend off at once, and re-tries it once per failTimeoutMs', () => {
    const { c } = r
    expect(c!.cutOffMs).toBeLessThan(100)
    expect(c!.failed).toBeLessThan(20)
    // 3 failures, then one attempt per 10 s window: a handful in a 30 s outage.
    expect(c!.outageAttempts).toBeLessThanOrEqual(3 + 30 / 10 + 5)
  })

  it('(d, e) outlier detection ejects after 5 failures; with retries no request fails', () => {
    const { d, e } = r
    expect(d!.markedDownMs).toBeLessThan(100)
    expect(d!.failed).toBe(d!.deadFailures)
    expect(d!.failed).toBeGreaterThan(0)
    expect(d!.failed).toBeLessThan(20)
    expect(e!.failed).toBe(0)
    expect(e!.retries).toBeGreaterThan(0)
    expect(e!.markedDownMs).toBeLessThan(100)
    // The 30 s ejection (+ up to 1 s of jitter) happens to end just as the backend recovers.
    for (const x of [d!, e!]) {
      expect(x.backMs).toBeDefined()
      expect(x.backMs!).toBeLessThan(1_100)
    }
  })
})

import type { Outcome } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { FAILURE, FailureFilter, NEUTRAL, SUCCESS } from './failure-filter.js'

const verdicts = (filter: FailureFilter, cases: readonly [Outcome, number][]) =>
  cases.map(([outcome, latencyMs]) => filter.classify(outcome, latencyMs))

describe('FailureFilter', () => {
  it('by default: every ok:false kind but cancelled and overload fails; statuses only through ok', () => {
    const f = new FailureFilter('p', {})
    expect(
      verdicts(f, [
        [{ ok: true }, 1],
        [{ ok: true, status: 503 }, 1],
        [{ ok: false }, 1], // kind defaults to 'error'
        [{ ok: false, error: 'connect' }, 1],
        [{ ok: false, error: 'reset' }, 1],
        [{ ok: false, error: 'timeout' }, 1],
        [{ ok: false, error: 'protocol' }, 1],
        [{ ok: false, error: 'status', status: 502 }, 1],
        [{ ok: false, error: 'cancelled' }, 1],
        [{ ok: false, error: 'overload' }, 1],
        [{ ok: true }, 1e9],
      ]),
    ).toEqual([
      SUCCESS,
      SUCCESS,
      FAILURE,
      FAILURE,
      FAILURE,
      FAILURE,
      FAILURE,
      FAILURE,
      NEUTRAL,
      NEUTRAL,
      SUCCESS,
    ])
  })

  it('failureStatuses match single statuses and inclusive ranges; slowCallMs is strict', () => {
    const f = new FailureFilter('p', { failureStatuses: [429, [500, 504]], slowCallMs: 100 })
    expect(
      verdicts(f, [
        [{ ok: true, status: 429 }, 1],
        [{ ok: true, status: 499 }, 1],
        [{ ok: true, status: 500 }, 1],
        [{ ok: true, status: 504 }, 1],
        [{ ok: true, status: 505 }, 1],
        [{ ok: true }, 100],
        [{ ok: true }, 100.5],
        [{ ok: false, error: 'cancelled' }, 1_000],
      ]),
    ).toEqual([FAILURE, SUCCESS, FAILURE, FAILURE, SUCCESS, SUCCESS, FAILURE, NEUTRAL])
  })

  it('isFailure decides alone; cancelled stays neutral unless it says failure', () => {
    const f = new FailureFilter('p', {
      isFailure: (o: Outcome) => o.status === 503 || o.error === 'overload',
      failureStatuses: [[400, 599]],
    })
    expect(
      verdicts(f, [
        [{ ok: true, status: 503 }, 1],
        [{ ok: false, error: 'connect' }, 1],
        [{ ok: true, status: 500 }, 1],
        [{ ok: false, error: 'cancelled' }, 1],
        [{ ok: false, error: 'overload' }, 1],
      ]),
    ).toEqual([FAILURE, SUCCESS, SUCCESS, NEUTRAL, FAILURE])
  })
})

import { type Balancer, createBalancer } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { picks, setOf } from './strategies.test-support.js'
import { weightedRoundRobin } from './weighted-round-robin.js'

/** Backends `a`, `b`, … with the given weights. */
function balancer(weights: readonly number[]): Balancer {
  return createBalancer()
    .backends(
      weights.map((weight, i) => ({
        id: String.fromCharCode(97 + i),
        url: `http://127.0.0.1:${9001 + i}`,
        weight,
      })),
    )
    .strategy(weightedRoundRobin())
    .build()
}

describe('weightedRoundRobin', () => {
  it('gives NGINX smooth WRR order for {a: 5, b: 1, c: 1}: aabacaa, repeated', () => {
    expect(picks(balancer([5, 1, 1]), 21)).toBe('aabacaa'.repeat(3))
  })

  it.each([
    [[2, 1], 'aba'],
    [[1, 2], 'bab'],
    [[1, 1], 'ab'],
    [[1, 1, 1], 'abc'],
    [[3, 1], 'aaba'],
    [[3, 2], 'ababa'],
    [[2, 1, 1], 'abca'],
    [[4, 3, 2, 1], 'abcabdacba'],
    [[0.5, 0.25, 0.25], 'abca'],
  ])('weights %j give %s per period', (weights, period) => {
    expect(picks(balancer(weights), period.length * 3)).toBe(period.repeat(3))
  })

  it('gives each backend exactly its weight per period, fractional weights included', () => {
    const lb = balancer([0.3, 0.1, 0.6])
    const counts = { a: 0, b: 0, c: 0 }
    const seq = picks(lb, 1000)
    for (const id of seq) counts[id as keyof typeof counts]++
    expect(counts).toEqual({ a: 300, b: 100, c: 600 })
  })

  it('leaves skipped backends out of the round', () => {
    const lb = balancer([5, 1, 1])
    // Both picks skip a: b and c share the round; a's score stays 0, so every score is back at 0
    // and the schedule starts over.
    expect(picks(lb, 2, setOf(lb, 'a'))).toBe('bc')
    expect(picks(lb, 14)).toBe('aabacaa'.repeat(2))
  })

  it('retries on the next backend of the schedule within one request', () => {
    const lb = balancer([5, 1, 1])
    expect(picks(lb, 1)).toBe('a')
    expect(picks(lb, 1, setOf(lb, 'a'))).toBe('b')
    // Scores are now a -2, b 0, c 2; the schedule continues from there (a wins its tie with c).
    expect(picks(lb, 7)).toBe('acaabaa')
  })

  it('restarts the schedule with the new weights after a weight change', () => {
    const lb = balancer([5, 1, 1])
    expect(picks(lb, 3)).toBe('aab')
    lb.setWeight('a', 1)
    expect(picks(lb, 6)).toBe('abcabc')
    lb.setWeight('c', 0)
    expect(picks(lb, 4)).toBe('abab')
  })
})

import { type Balancer, createBalancer, type Random } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { roundRobin } from './round-robin.js'
import { mulberry32, picks, setOf } from './strategies.test-support.js'

const fixed = (value: number): Random => ({ next: () => value })

function balancer(ids: string, random: Random, weights: readonly number[] = []): Balancer {
  return createBalancer()
    .backends([...ids].map((id, i) => ({ id, url: `http://127.0.0.1:${9001 + i}`, weight: weights[i] ?? 1 })))
    .strategy(roundRobin())
    .random(random)
    .build()
}

describe('roundRobin', () => {
  it('gives every backend one pick per round, ignoring weights, in identical consecutive rounds', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const lb = balancer('abcd', mulberry32(seed), [5, 1, 3, 1])
      const seq = picks(lb, 12)
      const round = seq.slice(0, 4)
      expect([...round].sort().join('')).toBe('abcd')
      expect(seq.slice(4, 8)).toBe(round)
      expect(seq.slice(8, 12)).toBe(round)
      // A rotation of the declaration order.
      expect('abcdabcd').toContain(round)
    }
  })

  it('starts at a random offset drawn from the balancer random source', () => {
    expect(picks(balancer('abcd', fixed(0)), 8)).toBe('abcdabcd')
    expect(picks(balancer('abcd', fixed(0.5)), 8)).toBe('cdabcdab')
    expect(picks(balancer('abcd', fixed(0.99)), 5)).toBe('dabcd')
    const starts = new Set<string>()
    for (let seed = 1; seed <= 60; seed++) starts.add(picks(balancer('abcd', mulberry32(seed)), 1))
    expect(starts.size).toBe(4)
  })

  it('passes over tried backends and continues after the backend returned', () => {
    const lb = balancer('abcd', fixed(0))
    expect(picks(lb, 1)).toBe('a')
    expect(picks(lb, 1, setOf(lb, 'b'))).toBe('c')
    expect(picks(lb, 3)).toBe('dab')
    expect(picks(lb, 1, setOf(lb, 'cda'))).toBe('b')
    expect(picks(lb, 4)).toBe('cdab')
  })

  it('rotates over the new membership after a change', () => {
    const lb = balancer('abc', mulberry32(7))
    picks(lb, 2)
    lb.add({ id: 'e', url: 'http://127.0.0.1:9009' })
    lb.drain('b')
    const seq = picks(lb, 9)
    expect([...seq.slice(0, 3)].sort().join('')).toBe('ace')
    expect(seq.slice(3, 6)).toBe(seq.slice(0, 3))
    expect(seq.slice(6, 9)).toBe(seq.slice(0, 3))
  })
})

import { BackendSet, type Balancer, createBalancer, type Lease, type Random } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { leastConnections } from './least-connections.js'
import { mulberry32 } from './strategies.test-support.js'

function balancer(weights: readonly number[], random: Random = mulberry32(42)): Balancer {
  return createBalancer()
    .backends(
      weights.map((weight, i) => ({
        id: String.fromCharCode(97 + i),
        url: `http://127.0.0.1:${9001 + i}`,
        weight,
      })),
    )
    .strategy(leastConnections())
    .random(random)
    .build()
}

/** Holds `n` leases on backend `id` (picked through the balancer, every other backend tried). */
function hold(lb: Balancer, id: string, n: number): Lease[] {
  const others = new BackendSet()
  for (const b of lb.backends()) if (b.id !== id) others.add(b)
  const leases: Lease[] = []
  for (let i = 0; i < n; i++) {
    const lease = lb.pick(undefined, others)
    expect(lease.backend!.id).toBe(id)
    leases.push(lease)
  }
  return leases
}

/** Counts of `n` picks (each released at once) per backend id. */
function counts(lb: Balancer, n: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const lease = lb.pick()
    const id = lease.backend!.id
    out[id] = (out[id] ?? 0) + 1
    lease.release()
  }
  return out
}

describe('leastConnections', () => {
  it('picks the idle backend while the others hold leases', () => {
    const lb = balancer([1, 1, 1])
    hold(lb, 'a', 2)
    hold(lb, 'b', 1)
    expect(counts(lb, 100)).toEqual({ c: 100 })
  })

  it('keeps in-flight counts level under concurrent picks', () => {
    const lb = balancer([1, 1, 1])
    const held: Lease[] = []
    for (let i = 0; i < 30; i++) held.push(lb.pick())
    expect(lb.backends().map((b) => b.inflight)).toEqual([10, 10, 10])
    for (const lease of held) lease.release()
    expect(lb.backends().map((b) => b.inflight)).toEqual([0, 0, 0])
  })

  it('compares inflight per unit of weight', () => {
    const lb = balancer([2, 1])
    const a = hold(lb, 'a', 1)
    // a: 1/2 < b: 1/1 once b has one too; b wins while idle.
    expect(counts(lb, 10)).toEqual({ b: 10 })
    const b = hold(lb, 'b', 1)
    expect(counts(lb, 10)).toEqual({ a: 10 })
    a.push(...hold(lb, 'a', 1))
    // a: 2/2 = b: 1/1, a tie shared by both.
    const tie = counts(lb, 400)
    expect(tie.a! + tie.b!).toBe(400)
    expect(tie.a).toBeGreaterThan(150)
    expect(tie.b).toBeGreaterThan(150)
    for (const lease of [...a, ...b]) lease.release()
  })

  it('spreads ties uniformly over every tied backend', () => {
    const lb = balancer([1, 4, 1, 2])
    const all = counts(lb, 4000)
    for (const id of 'abcd') expect(all[id]).toBeGreaterThan(850) // 1000 expected each
    hold(lb, 'c', 1)
    const rest = counts(lb, 3000)
    expect(rest.c).toBeUndefined()
    for (const id of 'abd') expect(rest[id]).toBeGreaterThan(850)
  })

  it('breaks ties with the balancer random source (reservoir sampling)', () => {
    // Reservoir sampling replaces the choice with the k-th tie when random × k < 1.
    expect(counts(balancer([1, 1, 1], { next: () => 0.999 }), 5)).toEqual({ a: 5 })
    expect(counts(balancer([1, 1, 1], { next: () => 0 }), 5)).toEqual({ c: 5 })
  })
})

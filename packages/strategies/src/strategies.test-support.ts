/**
 * Shared helpers of this package's tests (not part of the build: `*.test-support.ts` is excluded
 * from the package's tsconfig and files).
 */
import {
  BackendSet,
  type Balancer,
  createBalancer,
  InvalidOptionError,
  type Random,
  type Strategy,
} from '@fulcrum/core'
import { expect } from 'vitest'

/** mulberry32: a tiny seeded generator, so shares and sequences repeat exactly. */
export function mulberry32(seed: number): Random {
  let s = seed >>> 0
  return {
    next() {
      s = (s + 0x6d2b79f5) >>> 0
      let t = s
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    },
  }
}

/** 20 000 distinct routing keys. */
export const KEYS: readonly string[] = Array.from({ length: 20_000 }, (_, i) => `key-${i}`)

/** `n` backends `b<from>` … with distinct fake URLs. */
export const backends = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({ id: `b${from + i}`, url: `http://10.0.0.${from + i + 1}:80` }))

/** The backend id each key is picked onto (each lease released at once). */
export function assign(lb: Balancer, keys: readonly string[]): string[] {
  return keys.map((key) => {
    const lease = lb.pick({ key })
    lease.release()
    return lease.backend!.id
  })
}

/** How many times each id occurs. */
export function shares(ids: readonly string[]): Map<string, number> {
  const m = new Map<string, number>()
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1)
  return m
}

/** The most loaded id's count over the mean count. */
export function maxOverMean(ids: readonly string[]): number {
  const counts = [...shares(ids).values()]
  return Math.max(...counts) / (ids.length / counts.length)
}

/** Share of positions whose id changed. */
export function movedFraction(before: readonly string[], after: readonly string[]): number {
  let moved = 0
  for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) moved++
  return moved / before.length
}

/** `n` picks, each released at once, as a string of backend ids. */
export function picks(lb: Balancer, n: number, tried?: BackendSet): string {
  let out = ''
  for (let i = 0; i < n; i++) {
    const lease = lb.pick(undefined, tried)
    out += lease.backend!.id
    lease.release()
  }
  return out
}

/** A BackendSet of the backends named by the characters of `ids`. */
export function setOf(lb: Balancer, ids: string): BackendSet {
  const set = new BackendSet()
  for (const id of ids) set.add(lb.get(id)!)
  return set
}

/** A strategy that takes the first eligible backend not skipped, counting its calls (a fallback probe). */
export function countingFirst(): { strategy: Strategy; calls: () => number } {
  let calls = 0
  const strategy: Strategy = {
    name: 'first',
    build: (snap) => ({
      select: (_ctx, skip) => {
        calls++
        return snap.eligible.find((b) => !skip.has(b))
      },
    }),
  }
  return { strategy, calls: () => calls }
}

/** Asserts that `factory(options)` throws InvalidOptionError naming `path`. */
export function expectInvalid(factory: (options: never) => unknown, options: unknown, path: string): void {
  try {
    factory(options as never)
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidOptionError)
    expect((err as InvalidOptionError).path).toBe(path)
    return
  }
  expect.unreachable(`expected InvalidOptionError at ${path}`)
}

/** Asserts that every key maps to the same backend on every pick and whatever the insertion order. */
export function expectStableKeys(strategy: () => Strategy, n: number): void {
  const lb = createBalancer().backends(backends(n)).strategy(strategy()).build()
  const reversed = createBalancer().backends(backends(n).reverse()).strategy(strategy()).build()
  const first = assign(lb, KEYS.slice(0, 2000))
  expect(assign(lb, KEYS.slice(0, 2000))).toEqual(first)
  expect(assign(reversed, KEYS.slice(0, 2000))).toEqual(first)
}

import { describe, expect, it } from 'vitest'
import { equalJitterBackoff, fullJitterBackoff } from './backoff.js'
import { PeakEwma } from './peak-ewma.js'
import { RetryBudget } from './retry-budget.js'
import { RollingWindow } from './rolling-window.js'

const fixed = (v: number) => ({ next: () => v })

describe('PeakEwma', () => {
  it('jumps to peaks, blends lower samples and decays with time', () => {
    const e = new PeakEwma(10_000)
    expect(e.value(0)).toBe(0)
    e.observe(10, 0)
    expect(e.value(0)).toBe(10)
    e.observe(100, 1)
    expect(e.value(1)).toBe(100)
    e.observe(10, 10_001)
    const w = Math.exp(-1)
    expect(e.value(10_001)).toBeCloseTo(10 * (1 - w) + 100 * w, 6)
    expect(e.value(20_001)).toBeCloseTo((10 * (1 - w) + 100 * w) * w, 6)
  })
})

describe('RollingWindow', () => {
  it('sums values inside the window and forgets older slices', () => {
    const r = new RollingWindow(1_000, 10)
    r.add(1, 0)
    r.add(2, 500)
    expect(r.sum(999)).toBe(3)
    expect(r.sum(1_050)).toBe(2)
    expect(r.sum(1_600)).toBe(0)
    r.add(5, 10_000)
    expect(r.sum(10_000)).toBe(5)
  })
})

describe('RetryBudget', () => {
  it('allows percent × requests plus the reserve, and recovers after the TTL', () => {
    const b = new RetryBudget({ percent: 0.2, minPerSecond: 1, ttlMs: 10_000 })
    for (let i = 0; i < 100; i++) b.deposit(0)
    let granted = 0
    while (b.tryWithdraw(0)) granted++
    // 100 × 0.2 = 20, plus the reserve of 1/s × 10 s = 10.
    expect(granted).toBe(30)
    expect(b.tryWithdraw(5_000)).toBe(false)
    expect(b.tryWithdraw(11_000)).toBe(true)
  })

  it('with percent 0 only the reserve pays', () => {
    const b = new RetryBudget({ percent: 0, minPerSecond: 1, ttlMs: 2_000 })
    for (let i = 0; i < 1_000; i++) b.deposit(0)
    let granted = 0
    while (b.tryWithdraw(0)) granted++
    expect(granted).toBe(2)
  })
})

describe('backoff', () => {
  it('full jitter stays below min(max, base × 2^(n-1))', () => {
    expect(fullJitterBackoff(1, fixed(0.999), { baseMs: 25, maxMs: 250 })).toBeLessThan(25)
    expect(fullJitterBackoff(3, fixed(0.5), { baseMs: 25, maxMs: 250 })).toBe(50)
    expect(fullJitterBackoff(10, fixed(0.5), { baseMs: 25, maxMs: 250 })).toBe(125)
    expect(fullJitterBackoff(1, fixed(0))).toBe(0)
  })

  it('equal jitter keeps at least half of the step', () => {
    expect(equalJitterBackoff(0, 5_000, 300_000, fixed(0))).toBe(2_500)
    expect(equalJitterBackoff(2, 5_000, 300_000, fixed(0.999))).toBeLessThan(20_000)
    expect(equalJitterBackoff(20, 5_000, 300_000, fixed(0))).toBe(150_000)
  })
})

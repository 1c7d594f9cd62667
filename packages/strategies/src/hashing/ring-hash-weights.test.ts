import { createBalancer } from '@fulcrum/core'
import { describe, expect, it } from 'vitest'
import { ringHash } from './ring-hash.js'

describe('ringHash with weights', () => {
  it('removing the lightest backend of a weighted pool moves only its own keys', () => {
    const specs = [1, 2, 3, 4, 2].map((weight, i) => ({
      id: `b${i}`,
      host: '127.0.0.1',
      port: 9000 + i,
      weight,
    }))
    const lb = createBalancer().backends(specs).strategy(ringHash()).build()
    const owner = (key: string): string => {
      const lease = lb.pick({ key })
      lease.release()
      return lease.backend!.id
    }
    const keys = Array.from({ length: 5_000 }, (_, i) => `key-${i}`)
    const before = keys.map(owner)
    lb.remove('b0')
    const after = keys.map(owner)
    let moved = 0
    keys.forEach((_, i) => {
      if (before[i] !== after[i]) {
        moved++
        expect(before[i]).toBe('b0')
      }
    })
    expect(moved).toBe(before.filter((id) => id === 'b0').length)
  })
})

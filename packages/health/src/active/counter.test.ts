import { describe, expect, it } from 'vitest'
import { HealthCounter } from './counter.js'

describe('HealthCounter (HAProxy rise/fall)', () => {
  it('starts at rise (up, unconfirmed) or rise − 1 (down)', () => {
    expect(new HealthCounter(2, 3, 'up').health).toBe(2)
    expect(new HealthCounter(2, 3, 'up').up).toBe(true)
    expect(new HealthCounter(2, 3, 'down').health).toBe(1)
    expect(new HealthCounter(2, 3, 'down').up).toBe(false)
  })

  it('goes down after exactly fall failures from fully up, up after exactly rise successes', () => {
    const c = new HealthCounter(2, 3, 'up')
    expect(c.success()).toBe(false)
    expect(c.health).toBe(4)
    expect([c.failure(), c.failure(), c.failure()]).toEqual([false, false, true])
    expect(c.health).toBe(0)
    expect([c.success(), c.success()]).toEqual([false, true])
    expect(c.health).toBe(4)
  })

  it('resets progress on a failure while rising; a flapping pattern moves nothing', () => {
    const c = new HealthCounter(2, 3, 'down')
    c.failure()
    for (let i = 0; i < 10; i++) {
      expect(c.success()).toBe(false)
      expect(c.failure()).toBe(false)
    }
    expect(c.up).toBe(false)
    const u = new HealthCounter(2, 3, 'up')
    u.success()
    for (let i = 0; i < 10; i++) {
      expect(u.failure()).toBe(false)
      expect(u.success()).toBe(false)
    }
    expect(u.health).toBe(4)
  })

  it('markDown() drops to 0 at once; streak counts results of one kind', () => {
    const c = new HealthCounter(2, 3, 'up')
    c.success()
    c.success()
    expect(c.streak).toBe(2)
    expect(c.markDown()).toBe(true)
    expect(c.health).toBe(0)
    expect(c.failure()).toBe(false)
    expect(c.streak).toBe(2)
  })

  it('with rise = fall = 1 every result decides', () => {
    const c = new HealthCounter(1, 1, 'up')
    expect([c.failure(), c.success(), c.success(), c.failure()]).toEqual([true, true, false, true])
  })
})

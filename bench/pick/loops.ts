/**
 * The measured loops of the pick benchmark. Each returns a checksum so that the JIT cannot drop the
 * work; integer checksums stay in int32 (`| 0`), since an overflow to a double would deoptimise the
 * loop in the middle of a measurement. Contexts are precomputed: the loops allocate nothing
 * themselves.
 */
import type { Backend, Balancer, LeaseSlot, PickContext } from '@fulcrum/core'
import { OK, systemClock } from '@fulcrum/core'
import type HashRing from 'hashring'

const KEY_MASK = 4095
/** Routing keys, one per op in turn (`keys[i & 4095]`). */
export const KEYS: readonly string[] = Array.from({ length: KEY_MASK + 1 }, (_, i) => `user-${i}`)
/** One `{ key }` context per key. Strategies that do not hash ignore `key`. */
const CTXS: readonly PickContext[] = KEYS.map((key) => ({ key }))

/** The lease-free form: `lb.acquire(ctx, slot)` + `lb.release(slot, OK)` on one reused slot. */
export function acquireLoop(lb: Balancer, slot: LeaseSlot, ops: number): number {
  let sum = 0
  for (let i = 0; i < ops; i++) {
    const b = lb.acquire(CTXS[i & KEY_MASK]!, slot)
    sum = (sum + b.port) | 0
    lb.release(slot, OK)
  }
  return sum
}

/** The public form: `lb.pick(ctx)` + `lease.release()`. */
export function pickLoop(lb: Balancer, ops: number): number {
  let sum = 0
  for (let i = 0; i < ops; i++) {
    const lease = lb.pick(CTXS[i & KEY_MASK])
    sum = (sum + lease.backend!.port) | 0
    lease.release()
  }
  return sum
}

/** A cursor shared by the floor loops' successive calls. */
export interface Cursor {
  i: number
}

/** The floor of any pick: the next backend object of an array. */
export function floorLoop(list: readonly Backend[], at: Cursor, ops: number): number {
  const n = list.length
  let i = at.i
  let sum = 0
  for (let k = 0; k < ops; k++) sum = (sum + list[i++ % n]!.port) | 0
  at.i = i
  return sum
}

/** The floor plus the two clock reads of every pick + release (one in acquire, one in release). */
export function clockFloorLoop(list: readonly Backend[], at: Cursor, ops: number): number {
  const n = list.length
  const now = systemClock.now
  let i = at.i
  let sum = 0
  for (let k = 0; k < ops; k++) {
    const t0 = now()
    sum += list[i++ % n]!.port
    sum += now() - t0
  }
  at.i = i
  return sum
}

/** The floor plus the two `Math.random()` draws of a p2c pick. */
export function randomFloorLoop(list: readonly Backend[], at: Cursor, ops: number): number {
  const n = list.length
  let i = at.i
  let sum = 0
  for (let k = 0; k < ops; k++) {
    sum += list[i++ % n]!.port
    sum += Math.random() - Math.random()
  }
  at.i = i
  return sum
}

/** `hashring`'s lookup with the same keys. */
export function hashringLoop(ring: HashRing, ops: number): number {
  let sum = 0
  for (let i = 0; i < ops; i++) sum = (sum + ring.get(KEYS[i & KEY_MASK]!)!.length) | 0
  return sum
}

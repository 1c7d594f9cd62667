/**
 * Shared, frozen outcome objects, so that releasing an attempt allocates nothing: one per status
 * (success or failure) and one per failure kind, created on first use.
 */
import type { FailureKind, Outcome } from '@fulcrum/core'

const good = new Map<number, Outcome>()
const bad = new Map<number, Outcome>()
const kinds = new Map<FailureKind, Outcome>()

/** @internal The outcome of a response with `status`; `ok` false books it as a `status` failure. */
export function statusOutcome(status: number, ok: boolean): Outcome {
  const table = ok ? good : bad
  let o = table.get(status)
  if (o === undefined) {
    o = Object.freeze(ok ? { ok, status } : { ok, status, error: 'status' as const })
    table.set(status, o)
  }
  return o
}

/** @internal The outcome of an attempt that failed without a response. */
export function failureOutcome(kind: FailureKind): Outcome {
  let o = kinds.get(kind)
  if (o === undefined) {
    o = Object.freeze({ ok: false, error: kind })
    kinds.set(kind, o)
  }
  return o
}

import type { Direction } from '../types.js'
import type { ResetAfterToxic } from './reset-after.js'
import type { Toxic } from './toxic.js'

/**
 * One registered toxic, as {@link Faults.list} returns it: a frozen snapshot. Re-adding a name
 * replaces the entry with a new object under the same id.
 *
 * @example
 * ```ts
 * for (const e of faults.list()) console.log(e.id, e.toxic.kind, e.backend ?? '*', e.direction)
 * ```
 */
export interface FaultEntry {
  /** The id `add()` returned: the `name` given, else `<kind>-<n>`. */
  readonly id: string
  /** The toxic. */
  readonly toxic: Toxic
  /** The backend id it is scoped to, or `undefined` for every backend of the proxy. */
  readonly backend: string | undefined
  /** The direction(s) it applies to. */
  readonly direction: Direction | 'both'
}

/** @internal A reset-after entry (its toxic narrowed). */
export type ResetEntry = FaultEntry & { readonly toxic: ResetAfterToxic }

/** @internal What the toxics that apply to one stream add up to. */
export interface StreamEffect {
  /** Sum of the latency toxics' `ms`. */
  readonly latencyMs: number
  /** Sum of the latency toxics' `jitterMs`. */
  readonly jitterMs: number
  /** The smallest `bytesPerSecond`, or Infinity. */
  readonly bytesPerSecond: number
  /** The burst of the slowest bandwidth toxic. */
  readonly burstBytes: number
  /** Reset-after entries. */
  readonly resets: readonly ResetEntry[]
  /** A blackhole applies: drop input. */
  readonly blackhole: boolean
}

/** @internal The effect of no toxic at all. */
export const NO_EFFECT: StreamEffect = Object.freeze({
  latencyMs: 0,
  jitterMs: 0,
  bytesPerSecond: Number.POSITIVE_INFINITY,
  burstBytes: Number.POSITIVE_INFINITY,
  resets: Object.freeze([]) as readonly ResetEntry[],
  blackhole: false,
})

/** @internal True when `entry` applies to `direction` of a connection to backend `backendId`. */
export function appliesTo(entry: FaultEntry, direction: Direction, backendId: string | undefined): boolean {
  if (entry.direction !== 'both' && entry.direction !== direction) return false
  return entry.backend === undefined || entry.backend === backendId
}

/**
 * @internal Combines the stream toxics (latency, bandwidth, reset-after, one-way blackhole) that
 * apply to one direction of a connection; `undefined` when none does.
 */
export function resolveEffect(
  entries: readonly FaultEntry[],
  direction: Direction,
  backendId: string,
): StreamEffect | undefined {
  let any = false
  let latencyMs = 0
  let jitterMs = 0
  let bytesPerSecond = Number.POSITIVE_INFINITY
  let burstBytes = Number.POSITIVE_INFINITY
  let resets: ResetEntry[] | undefined
  let hole = false
  for (const e of entries) {
    if (!appliesTo(e, direction, backendId)) continue
    const t = e.toxic
    switch (t.kind) {
      case 'latency':
        latencyMs += t.ms
        jitterMs += t.jitterMs
        break
      case 'bandwidth':
        if (t.bytesPerSecond < bytesPerSecond) {
          bytesPerSecond = t.bytesPerSecond
          burstBytes = t.burstBytes
        }
        break
      case 'resetAfter':
        ;(resets ??= []).push(e as ResetEntry)
        break
      case 'blackhole':
        // A two-way blackhole is the proxy's business (`Faults.blackhole()`); live connections it
        // did not stop still lose their bytes.
        hole = true
        break
      case 'slowClose':
        continue
    }
    any = true
  }
  if (!any) return undefined
  return {
    latencyMs,
    jitterMs,
    bytesPerSecond,
    burstBytes,
    resets: resets ?? NO_EFFECT.resets,
    blackhole: hole,
  }
}

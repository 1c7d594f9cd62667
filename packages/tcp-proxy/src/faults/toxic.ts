import { checkObject, checkOneOf } from '@fulcrum/core'
import { type BandwidthToxic, bandwidth } from './bandwidth.js'
import { type BlackholeToxic, blackhole } from './blackhole.js'
import { type LatencyToxic, latency } from './latency.js'
import { type ResetAfterToxic, resetAfter } from './reset-after.js'
import { type SlowCloseToxic, slowClose } from './slow-close.js'

/**
 * Any toxic {@link Faults.add} takes. Build them with the factories — {@link latency},
 * {@link bandwidth}, {@link resetAfter}, {@link blackhole}, {@link slowClose} — which validate their
 * options; the values are frozen and can be added several times, with different scopes.
 *
 * @example
 * ```ts
 * const toxics: Toxic[] = [latency({ ms: 100 }), bandwidth({ bytesPerSecond: 65_536 }), blackhole()]
 * ```
 */
export type Toxic = LatencyToxic | BandwidthToxic | ResetAfterToxic | BlackholeToxic | SlowCloseToxic

/**
 * The `kind` of a {@link Toxic}.
 *
 * @example
 * ```ts
 * const kinds = faults.list().map((e): ToxicKind => e.toxic.kind)
 * ```
 */
export type ToxicKind = Toxic['kind']

const KINDS: readonly ToxicKind[] = ['latency', 'bandwidth', 'resetAfter', 'blackhole', 'slowClose']

/**
 * @internal Checks a toxic given to `add()` (possibly hand-written) by rebuilding it with its
 * factory, so that it is frozen and complete; throws `InvalidOptionError`.
 */
export function normalizeToxic(path: string, value: unknown): Toxic {
  checkObject(path, value)
  const kind = checkOneOf(`${path}.kind`, value.kind, KINDS)
  const { kind: _kind, ...rest } = value as Record<string, unknown>
  switch (kind) {
    case 'latency':
      return latency(rest as never)
    case 'bandwidth':
      return bandwidth(rest as never)
    case 'resetAfter':
      return resetAfter(rest as never)
    case 'blackhole':
      return blackhole(rest as never)
    case 'slowClose':
      return slowClose(rest as never)
  }
}

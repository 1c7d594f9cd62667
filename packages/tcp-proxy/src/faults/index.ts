/**
 * Fault injection for the TCP proxy: {@link Faults} and its toxics.
 *
 * @example
 * ```ts
 * import { Faults, latency } from '@fulcrum/tcp-proxy'
 * const faults = new Faults()
 * faults.add(latency({ ms: 100 }), { direction: 'downstream' })
 * ```
 */
export { type BandwidthOptions, type BandwidthToxic, bandwidth } from './bandwidth.js'
export { type BlackholeToxic, blackhole } from './blackhole.js'
export type { FaultEntry } from './effect.js'
export { FaultResetError, isFaultReset } from './fault-reset-error.js'
export { type AddToxicOptions, Faults, type FaultsOptions } from './faults.js'
export { type LatencyOptions, type LatencyToxic, latency } from './latency.js'
export { type ResetAfterOptions, type ResetAfterToxic, resetAfter } from './reset-after.js'
export { type SlowCloseOptions, type SlowCloseToxic, slowClose } from './slow-close.js'
export type { Toxic, ToxicKind } from './toxic.js'

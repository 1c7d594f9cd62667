/**
 * The hashing family of `@fulcrum/strategies`: consistent hashing (ring, Maglev, rendezvous, bounded
 * loads), learned affinity (`sticky`), the key extractors they read keys with, and the hashes they use.
 */
export { type BoundedLoadOptions, boundedLoad } from './bounded-load.js'
export { combine32, fmix32, murmur3, unitInterval } from './hash.js'
export {
  type ClientIpKeyOptions,
  firstKey,
  type HttpKeyContext,
  type KeyExtractor,
  keyFrom,
  keyFromClientIp,
  keyFromContext,
  keyFromCookie,
  keyFromHeader,
  keyFromPath,
  keyFromQuery,
  type PathKeyOptions,
} from './keys.js'
export { type MaglevOptions, maglev } from './maglev.js'
export { type RendezvousOptions, rendezvous } from './rendezvous.js'
export { type RingHashOptions, ringHash } from './ring-hash.js'
export { type StickyOptions, sticky } from './sticky.js'

/**
 * The non-hashing strategies of `@fulcrum/strategies`: rotation, smooth weighted round robin,
 * least connections, uniform and weighted random, Peak-EWMA, and core's power of two choices.
 */
export { type P2cOptions, p2c } from '@fulcrum/core'
export { leastConnections } from './least-connections.js'
export { type PeakEwmaOptions, peakEwma } from './peak-ewma.js'
export { random, weightedRandom } from './random.js'
export { roundRobin } from './round-robin.js'
export { weightedRoundRobin } from './weighted-round-robin.js'

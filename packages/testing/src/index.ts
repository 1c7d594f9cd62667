/**
 * @module @fulcrum/testing
 *
 * Test kit for Fulcrum: a {@link VirtualClock} and {@link seededRandom} to make a balancer
 * deterministic, latency {@link Distribution}s, and {@link simulate} to run a balancer against
 * synthetic backends without a network or real time, and assert on what each backend saw.
 *
 * @example
 * ```ts
 * import { createBalancer } from '@fulcrum/core'
 * import { simulate, uniform } from '@fulcrum/testing'
 *
 * const report = await simulate({
 *   balancer: createBalancer().retry({ retries: 2 }),
 *   backends: [{ id: 'a', latency: 10 }, { id: 'b', latency: uniform(5, 15) }, { id: 'c', latency: 100 }],
 *   load: { concurrency: 32 },
 *   durationMs: 30_000,
 *   seed: 42,
 * })
 * expect(report.backends.c!.share).toBeLessThan(0.2)
 * ```
 */
export {
  constant,
  type Distribution,
  exponential,
  type LatencyInput,
  logNormal,
  type MixtureComponent,
  mixture,
  normal,
  toDistribution,
  uniform,
} from './distributions.js'
export { probeSimulated } from './probe.js'
export { type Seed, type SeededRandom, seededRandom } from './seeded-random.js'
export { simulate } from './simulate.js'
export type {
  SimulatedBackendEvent,
  SimulatedBackendSpec,
  SimulatedLoad,
  SimulateOptions,
  SimulationAction,
} from './simulate-options.js'
export type {
  BackendReport,
  BucketBackendStats,
  LatencySummary,
  RequestsReport,
  SimulationReport,
  TimelineBucket,
} from './simulation-report.js'
export { VirtualClock, type VirtualClockOptions } from './virtual-clock.js'

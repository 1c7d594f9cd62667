/**
 * Passive health: outlier detection with Envoy's semantics.
 *
 * @example
 * ```ts
 * import { outlierDetection } from '@fulcrum/health'
 * createBalancer().backends(urls).health(outlierDetection({ successRate: true })).build()
 * ```
 */
export { OutlierDetector, type OutlierStatus } from './detector.js'
export type { OutlierDetectionOptions, SuccessRateOptions } from './options.js'
export { outlierDetection } from './outlier-detection.js'
export { type SuccessRateStats, successRateThreshold } from './success-rate.js'

import { OutlierDetector } from './detector.js'
import { type OutlierDetectionOptions, resolveOutlierOptions } from './options.js'

/**
 * Passive health checking with Envoy's outlier-detection semantics. Every release feeds it:
 * `consecutiveFailures` failures in a row (connect errors, resets, timeouts, 5xx …; never
 * cancellations or overload refusals) eject the backend; optionally, every `intervalMs`, a backend
 * whose success rate lies `stdevFactor` σ below the mean of its peers is ejected too. An ejection
 * lasts `baseEjectionMs × timesEjected` (capped at `maxEjectionMs`) plus jitter; the multiplier
 * shrinks by one per interval spent back in service. At most `maxEjectionPercent` of the backends
 * are ejected at once, but one may always be. A passing active check returns a backend early.
 * Ejected backends are unhealthy for picks, though panic mode may still route to them.
 *
 * Use it for any production pool; add an active check (`httpCheck()`) to find dead backends that
 * take no traffic. It turns off the balancer's simpler built-in `maxFails` avoidance.
 *
 * @example
 * ```ts
 * const outliers = outlierDetection({ consecutiveFailures: 5, successRate: true })
 * const lb = createBalancer().backends(urls).health(outliers).build()
 * lb.on('backend:state', ({ backend, to, reason }) => log.warn({ id: backend.id, to, reason }))
 * outliers.status(urls[0])   // { ejected, timesEjected, ejectedUntil, consecutiveFailures }
 * ```
 * @see https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier
 */
export function outlierDetection(options?: OutlierDetectionOptions): OutlierDetector {
  return new OutlierDetector(resolveOutlierOptions(options))
}

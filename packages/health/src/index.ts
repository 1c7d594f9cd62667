/**
 * @module @fulcrum/health
 *
 * Health for Fulcrum balancers: active checks, passive outlier detection, slow start.
 */
export {
  type ActiveCheckOptions,
  type ActiveCheckStatus,
  type ActiveHealthCheck,
  type BodyMatcher,
  type CheckFn,
  type FnCheckOptions,
  fnCheck,
  type HttpCheckMethod,
  type HttpCheckOptions,
  type HttpCheckTlsOptions,
  httpCheck,
  type StatusSpec,
  type TcpCheckOptions,
  tcpCheck,
} from './active/index.js'
export {
  type OutlierDetectionOptions,
  OutlierDetector,
  type OutlierStatus,
  outlierDetection,
  type SuccessRateOptions,
  type SuccessRateStats,
  successRateThreshold,
} from './outlier/index.js'
export { SlowStart, type SlowStartOptions, slowStart, slowStartFactor } from './slow-start.js'

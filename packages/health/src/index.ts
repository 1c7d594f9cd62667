/**
 * @module @fulcrum/health
 *
 * Health for Fulcrum balancers: active checks, passive outlier detection, slow start.
 */
export {}

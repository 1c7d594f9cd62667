/**
 * @module @fulcrum/breaker
 *
 * Circuit breaking and admission control for Fulcrum balancers.
 */
export {}

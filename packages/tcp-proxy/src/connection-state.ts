/**
 * @internal The states of a proxied connection, in order: a connection only moves forward.
 */
/** Reading the PROXY header and/or peeking at the ClientHello. */
export const PREAMBLE = 0
/** Routing, picking, connecting (failover included). */
export const CONNECTING = 1
/** Relaying both ways. */
export const OPEN = 2
/** Accepted, never answered (fault injection). */
export const BLACKHOLE = 3
/** Everything released. */
export const CLOSED = 4

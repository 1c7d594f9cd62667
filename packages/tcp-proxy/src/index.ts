/**
 * @module @fulcrum/tcp-proxy
 *
 * L4 load balancing on node:net with a Fulcrum balancer.
 */
export type { Direction, ProxyAddresses, ProxyHeader, TcpContext } from './types.js'

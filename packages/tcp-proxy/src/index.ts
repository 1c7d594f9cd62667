/**
 * @module @fulcrum/tcp-proxy
 *
 * L4 load balancing on node:net with a Fulcrum balancer: a backend per connection with failover,
 * half-close, backpressure, idle timeout, graceful drain, PROXY protocol v1/v2, TLS passthrough
 * routed by SNI, TLS termination and fault injection for tests.
 *
 * @example
 * ```ts
 * import { createBalancer } from '@fulcrum/core'
 * import { leastConnections } from '@fulcrum/strategies'
 * import { createTcpProxy } from '@fulcrum/tcp-proxy'
 * const lb = createBalancer().backends(['127.0.0.1:6380', '127.0.0.1:6381']).strategy(leastConnections()).build()
 * const proxy = createTcpProxy(lb)
 * await proxy.listen({ port: 6379, host: '127.0.0.1' })
 * ```
 */

// The proxy.
export {
  ConnectTimeoutError,
  NoRouteError,
  ProxyClosedError,
  type TcpProxyErrorCode,
  UntrustedPeerError,
} from './errors.js'
export type {
  ConnectionCloseEvent,
  ConnectionErrorEvent,
  ConnectionOpenEvent,
  ConnectionRetryEvent,
  TcpCloseReason,
  TcpErrorReason,
  TcpProxyEventName,
  TcpProxyEvents,
  TcpProxyListener,
} from './events.js'
// Fault injection.
export {
  type AddToxicOptions,
  type BandwidthOptions,
  type BandwidthToxic,
  type BlackholeToxic,
  bandwidth,
  blackhole,
  type FaultEntry,
  FaultResetError,
  Faults,
  type FaultsOptions,
  isFaultReset,
  type LatencyOptions,
  type LatencyToxic,
  latency,
  type ResetAfterOptions,
  type ResetAfterToxic,
  resetAfter,
  type SlowCloseOptions,
  type SlowCloseToxic,
  slowClose,
  type Toxic,
  type ToxicKind,
} from './faults/index.js'
export type { AcceptProxyProtocolOptions, SniOptions, TcpProxyOptions, TcpRoute } from './options.js'
export { createTcpProxy, type TcpCloseOptions, type TcpListenOptions, TcpProxy } from './proxy.js'
// PROXY protocol v1/v2.
export {
  encodeProxyHeader,
  encodeProxyV2Local,
  type ParsedProxyHeader,
  PROXY_V1_MAX_LENGTH,
  PROXY_V2_FIXED_LENGTH,
  PROXY_V2_MAX_ACCEPTED_LENGTH,
  PROXY_V2_SIGNATURE,
  ProxyProtocolError,
  type ProxyProtocolErrorReason,
  type ProxyTlvs,
  parseProxyHeader,
  readProxyHeader,
} from './proxy-protocol/index.js'
// TLS passthrough routed by SNI, and TLS termination.
export {
  type ClientHelloResult,
  createSniProxy,
  MAX_CLIENT_HELLO_BYTES,
  parseClientHelloServerName,
  peekServerName,
  SniError,
  type SniErrorReason,
  type SniProxyOptions,
  sniRouter,
} from './sni/index.js'
export type { BackendTraffic, TcpProxyStats } from './stats.js'
export {
  NoCertificateError,
  type TlsCertificate,
  type TlsTerminator,
  type TlsTerminatorOptions,
  tlsTerminator,
} from './tls/index.js'
export type { Direction, FaultHooks, ProxyAddresses, ProxyHeader, TcpContext } from './types.js'

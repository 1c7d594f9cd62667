import type { Duplex } from 'node:stream'
import type { Backend, PickContext } from '@fulcrum/core'

/**
 * What a TCP connection's pick is about: the client's address (the default hashing key), the
 * server name from a TLS ClientHello when routing by SNI, and the addresses a trusted front load
 * balancer reported through the PROXY protocol.
 */
export interface TcpContext extends PickContext {
  /** The routing key for hashing strategies. @default the client's IP address */
  readonly key?: string | undefined
  /** The client's IP: from the accepted PROXY header when there is one, else the socket's peer. */
  readonly remoteAddress: string
  /** The client's port (as for `remoteAddress`). */
  readonly remotePort: number
  /** The address the client connected to. */
  readonly localAddress: string
  /** The port the client connected to. */
  readonly localPort: number
  /** The TLS server name (SNI) the client asked for, when the proxy peeked at its ClientHello. */
  readonly serverName?: string | undefined
  /** What a trusted front load balancer said in a PROXY protocol header, when one was accepted. */
  readonly proxied?: ProxyHeader | undefined
}

/** The addresses carried by a PROXY protocol header (v1 or v2). */
export interface ProxyAddresses {
  /** `'TCP4'`, `'TCP6'` or `'UNKNOWN'` (v2 `LOCAL` and `UNSPEC` map to `'UNKNOWN'`). */
  readonly family: 'TCP4' | 'TCP6' | 'UNKNOWN'
  readonly sourceAddress: string
  readonly sourcePort: number
  readonly destinationAddress: string
  readonly destinationPort: number
}

/** A parsed PROXY protocol header. */
export interface ProxyHeader extends ProxyAddresses {
  /** 1 (text) or 2 (binary). */
  readonly version: 1 | 2
  /** v2 `LOCAL` command (health checks of the front balancer): no client addresses. */
  readonly local: boolean
  /** v2 type-length-value extensions, by type (e.g. 0x01 ALPN, 0x02 authority). */
  readonly tlvs: ReadonlyMap<number, Buffer>
}

/** Which way bytes flow: `upstream` = client → backend, `downstream` = backend → client. */
export type Direction = 'upstream' | 'downstream'

/**
 * @internal The seam between the proxy and fault injection. The proxy asks it, per connection,
 * whether to blackhole, which streams to insert into each direction's pipe, and how long to delay
 * the close.
 */
export interface FaultHooks {
  /** True when a new connection to `backend` (or to any backend, when undefined) must be blackholed. */
  blackhole(backend: Backend | undefined): boolean
  /** A stream to insert between source and destination for this direction, or undefined for none. */
  wrap(direction: Direction, backend: Backend): Duplex | undefined
  /** Milliseconds to wait before forwarding a close (FIN) in this direction; 0 for none. */
  closeDelayMs(direction: Direction, backend: Backend): number
}

/**
 * PROXY protocol v1/v2 (HAProxy `doc/proxy-protocol.txt`): encode headers to send to backends,
 * parse them strictly and incrementally, and read them off accepted sockets.
 *
 * @example
 * ```ts
 * import { encodeProxyHeader, readProxyHeader } from './proxy-protocol/index.js'
 * backend.write(encodeProxyHeader(2, addresses))
 * const header = await readProxyHeader(client, 3_000)
 * ```
 *
 * @module
 */
export {
  PROXY_V1_MAX_LENGTH,
  PROXY_V2_FIXED_LENGTH,
  PROXY_V2_MAX_ACCEPTED_LENGTH,
  PROXY_V2_SIGNATURE,
} from './constants.js'
export { encodeProxyHeader, encodeProxyV2Local, type ProxyTlvs } from './encode.js'
export { ProxyProtocolError, type ProxyProtocolErrorReason } from './errors.js'
export { type ParsedProxyHeader, parseProxyHeader } from './parse.js'
export { readProxyHeader } from './read.js'

export {
  type ClientHelloResult,
  INCOMPLETE,
  MAX_CLIENT_HELLO_BYTES,
  parseClientHelloServerName,
} from './client-hello.js'
export { SniError, type SniErrorReason } from './errors.js'
export { peekServerName } from './peek.js'
export { createSniProxy, type SniProxyOptions, sniRouter } from './router.js'

export {
  NoCertificateError,
  type TlsCertificate,
  type TlsTerminator,
  type TlsTerminatorOptions,
  tlsTerminator,
} from './terminate.js'

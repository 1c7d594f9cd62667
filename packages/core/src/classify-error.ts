import type { FailureKind } from './outcome.js'

const CONNECT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CONNECT',
  'FULCRUM_ERR_CONNECT',
  'FULCRUM_ERR_CONNECT_TIMEOUT',
])
const RESET = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'FULCRUM_ERR_RESET',
])
const TIMEOUT = new Set([
  'ETIMEDOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'FULCRUM_ERR_ATTEMPT_TIMEOUT',
  'FULCRUM_ERR_TIMEOUT',
])
const PROTOCOL = new Set([
  'HPE_INVALID_CONSTANT',
  'UND_ERR_INVALID_ARG',
  'UND_ERR_RESPONSE',
  'FULCRUM_ERR_BAD_RESPONSE',
])
const OVERLOAD = new Set(['FULCRUM_ERR_OVERLOAD', 'FULCRUM_ERR_CIRCUIT_OPEN', 'FULCRUM_ERR_QUEUE_TIMEOUT'])

/**
 * Maps an error to a {@link FailureKind}: an explicit `failureKind` property wins, then well-known
 * `code`s of Node, undici and Fulcrum, then `AbortError` (→ `cancelled`), else `error`.
 *
 * @example
 * ```ts
 * classifyError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })) // 'connect'
 * ```
 */
export function classifyError(error: unknown): FailureKind {
  if (typeof error !== 'object' || error === null) return 'error'
  const e = error as { failureKind?: unknown; code?: unknown; name?: unknown; cause?: unknown }
  if (typeof e.failureKind === 'string') return e.failureKind as FailureKind
  const code = typeof e.code === 'string' ? e.code : ''
  if (CONNECT.has(code)) return 'connect'
  if (RESET.has(code)) return 'reset'
  if (TIMEOUT.has(code)) return 'timeout'
  if (PROTOCOL.has(code) || code.startsWith('HPE_')) return 'protocol'
  if (OVERLOAD.has(code)) return 'overload'
  if (e.name === 'AbortError' || code === 'ABORT_ERR' || code === 'UND_ERR_ABORTED') return 'cancelled'
  if (e.name === 'TimeoutError') return 'timeout'
  if (e.cause !== undefined && e.cause !== error) {
    const inner = classifyError(e.cause)
    if (inner !== 'error') return inner
  }
  return 'error'
}

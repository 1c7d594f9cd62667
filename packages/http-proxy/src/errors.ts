import { type FailureKind, FulcrumError, isOverloadError, type OverloadError } from '@fulcrum/core'

/**
 * Every error code the HTTP proxy creates. `FULCRUM_ERR_OVERLOAD` (503 with `Retry-After`) is an
 * admission plugin's `OverloadError` refusing the pick, or a queued pick timing out: no backend was
 * involved, so the request is neither retried elsewhere nor booked against a backend.
 */
export type HttpProxyErrorCode =
  | 'FULCRUM_ERR_BAD_REQUEST'
  | 'FULCRUM_ERR_UPSTREAM_CONNECT'
  | 'FULCRUM_ERR_UPSTREAM_RESET'
  | 'FULCRUM_ERR_UPSTREAM_TIMEOUT'
  | 'FULCRUM_ERR_BAD_RESPONSE'
  | 'FULCRUM_ERR_UPSTREAM_STATUS'
  | 'FULCRUM_ERR_NO_BACKEND'
  | 'FULCRUM_ERR_CLIENT_ABORTED'
  | 'FULCRUM_ERR_HOOK'
  | 'FULCRUM_ERR_PROXY_CLOSED'
  | 'FULCRUM_ERR_BODY_CONSUMED'
  /** Admission control refused the request (a full concurrency limit or queue, a queue timeout). */
  | 'FULCRUM_ERR_OVERLOAD'

/**
 * Where in the life of a request an error happened:
 * - `request`: reading or validating the client's request, before any backend was chosen;
 * - `connect`: choosing a backend or connecting to it (nothing was sent);
 * - `request-body`: sending the request (head or body) upstream;
 * - `response-headers`: waiting for or parsing the upstream response head;
 * - `response-body`: relaying the response body (the client has the status already);
 * - `upgrade`: a WebSocket (or other) upgrade.
 */
export type ProxyPhase =
  | 'request'
  | 'connect'
  | 'request-body'
  | 'response-headers'
  | 'response-body'
  | 'upgrade'

/**
 * Why a proxied request failed, with the HTTP status the proxy answers and the phase it failed in.
 * `cause` holds the underlying undici or socket error. Hooks receive it as `ctx.error` and in
 * `onError`; `classifyError()` maps it to the balancer's failure kinds through `failureKind`.
 *
 * @example
 * ```ts
 * createHttpProxy(lb, { onLog: (ctx) => ctx.error && log.warn(`${ctx.error.code} in ${ctx.error.phase}`) })
 * ```
 */
export class ProxyError extends FulcrumError {
  /** The status the proxy answers with (when the response has not started). */
  readonly status: number
  /** The phase the error happened in. */
  readonly phase: ProxyPhase
  /** How the balancer books it. */
  readonly failureKind: FailureKind
  /** The backend involved, if one was chosen. */
  readonly backendId: string | undefined
  /** Seconds for a `Retry-After` header (503s). */
  readonly retryAfterSeconds: number | undefined

  constructor(
    code: HttpProxyErrorCode,
    status: number,
    phase: ProxyPhase,
    failureKind: FailureKind,
    message: string,
    options?: { cause?: unknown; backendId?: string | undefined; retryAfterSeconds?: number },
  ) {
    super(code, message, options)
    this.name = 'ProxyError'
    this.status = status
    this.phase = phase
    this.failureKind = failureKind
    this.backendId = options?.backendId
    this.retryAfterSeconds = options?.retryAfterSeconds
  }
}

const TIMEOUT_CODES: Record<string, string> = {
  UND_ERR_CONNECT_TIMEOUT: 'connecting',
  UND_ERR_HEADERS_TIMEOUT: 'waiting for the response headers',
  UND_ERR_BODY_TIMEOUT: 'waiting for the response body',
}

/**
 * @internal Turns an undici or socket error of an upstream attempt into a {@link ProxyError}.
 * `phase` is where the exchange was when it failed.
 */
export function upstreamError(cause: unknown, phase: ProxyPhase, backendId: string | undefined): ProxyError {
  const e = cause as { code?: unknown; message?: unknown } | null
  const code = typeof e?.code === 'string' ? e.code : ''
  const message = typeof e?.message === 'string' ? e.message : String(cause)
  const opts = { cause, backendId }
  const doing = TIMEOUT_CODES[code]
  if (doing !== undefined) {
    const p: ProxyPhase = code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect' : phase
    return new ProxyError(
      'FULCRUM_ERR_UPSTREAM_TIMEOUT',
      504,
      p,
      // A connect timeout sent nothing: booked (and retried) like a refused connection.
      p === 'connect' ? 'connect' : 'timeout',
      `Upstream timed out ${doing}`,
      opts,
    )
  }
  if (CONNECT.has(code) || (phase === 'connect' && code !== 'UND_ERR_ABORTED'))
    return new ProxyError(
      'FULCRUM_ERR_UPSTREAM_CONNECT',
      502,
      'connect',
      'connect',
      `Cannot connect upstream: ${message}`,
      opts,
    )
  if (
    code.startsWith('HPE_') ||
    BAD_RESPONSE.has(code) ||
    (e as { name?: unknown } | null)?.name === 'HTTPParserError' ||
    /bad (response|upgrade)/.test(message)
  )
    return new ProxyError(
      'FULCRUM_ERR_BAD_RESPONSE',
      502,
      phase,
      'protocol',
      `Bad upstream response: ${message}`,
      opts,
    )
  return new ProxyError(
    'FULCRUM_ERR_UPSTREAM_RESET',
    502,
    phase,
    'reset',
    `Upstream connection broke: ${message}`,
    opts,
  )
}

const BAD_RESPONSE = new Set([
  'UND_ERR_RESPONSE',
  'UND_ERR_INFO',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_EXCEEDED_MAX_SIZE',
  'FULCRUM_ERR_BAD_RESPONSE',
])
const CONNECT = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
])

/** @internal The error of a request that could not be routed (no eligible backend, closed balancer). */
export function noBackendError(cause: unknown, retryAfterSeconds: number): ProxyError {
  const message = cause instanceof Error ? cause.message : 'No backend is available'
  return new ProxyError('FULCRUM_ERR_NO_BACKEND', 503, 'connect', 'overload', message, {
    cause,
    retryAfterSeconds,
  })
}

/**
 * @internal The error of a refused admission: 503 with `Retry-After` of the plugin's hint rounded
 * up to seconds (at least 1). Booked nowhere: nothing was acquired.
 */
export function overloadError(cause: OverloadError): ProxyError {
  const ms = cause.retryAfterMs
  const retryAfterSeconds = Number.isFinite(ms) && ms > 1_000 ? Math.ceil(ms / 1_000) : 1
  return new ProxyError('FULCRUM_ERR_OVERLOAD', 503, 'connect', 'overload', cause.message, {
    cause,
    retryAfterSeconds,
  })
}

/** @internal The error of a failed pick: {@link overloadError} for an `OverloadError`, else {@link noBackendError}. */
export function pickError(cause: unknown): ProxyError {
  return isOverloadError(cause) ? overloadError(cause) : noBackendError(cause, 1)
}

/** @internal The client went away before the response was complete. */
export function clientAbortedError(phase: ProxyPhase, backendId: string | undefined): ProxyError {
  return new ProxyError(
    'FULCRUM_ERR_CLIENT_ABORTED',
    499,
    phase,
    'cancelled',
    'The client closed the connection',
    {
      backendId,
    },
  )
}

/** @internal A request the gateway refuses to forward: 400 for RFC 9110/9112 violations, 501 for what it cannot forward. */
export function badRequestError(message: string, status = 400): ProxyError {
  return new ProxyError('FULCRUM_ERR_BAD_REQUEST', status, 'request', 'error', message)
}

/**
 * @internal A backend answered a retryable status (503 …) whose response was discarded for a retry
 * that could not happen (budget spent): the client gets that status.
 */
export function statusError(
  status: number,
  backendId: string | undefined,
  retryAfterMs: number | undefined,
): ProxyError {
  return new ProxyError(
    'FULCRUM_ERR_UPSTREAM_STATUS',
    status,
    'response-headers',
    'status',
    `Upstream answered ${status}`,
    {
      backendId,
      ...(retryAfterMs === undefined ? {} : { retryAfterSeconds: Math.ceil(retryAfterMs / 1000) }),
    },
  )
}

/** @internal The proxy (or dispatcher) was closed: its upstream pools are gone. */
export function proxyClosedError(): ProxyError {
  return new ProxyError('FULCRUM_ERR_PROXY_CLOSED', 503, 'connect', 'cancelled', 'The proxy is closed', {
    retryAfterSeconds: 1,
  })
}

/** @internal The request body was read before the proxy got it (a body parser ran first). */
export function bodyConsumedError(detail = ''): ProxyError {
  return new ProxyError(
    'FULCRUM_ERR_BODY_CONSUMED',
    500,
    'request',
    'error',
    `The request body was read before the proxy (a body parser mounted earlier?)${detail}; mount the proxy before the body parsers`,
  )
}

/** @internal A hook threw: the client gets a 500 and no backend is blamed. */
export function hookError(hook: string, cause: unknown): ProxyError {
  const message = cause instanceof Error ? cause.message : String(cause)
  return new ProxyError(
    'FULCRUM_ERR_HOOK',
    500,
    hook === 'onUpstreamResponse' ? 'response-headers' : 'request',
    'cancelled',
    `The ${hook} hook threw: ${message}`,
    { cause },
  )
}

/** @internal The balancer's overall deadline (`.retry({ timeoutMs })`) passed before the response ended. */
export function deadlineError(phase: ProxyPhase, backendId: string | undefined): ProxyError {
  return new ProxyError(
    'FULCRUM_ERR_UPSTREAM_TIMEOUT',
    504,
    phase,
    'timeout',
    'The request deadline passed',
    {
      backendId,
    },
  )
}

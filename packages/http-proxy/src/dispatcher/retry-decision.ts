/**
 * Whether a failed attempt of a balanced request may go to another backend, on top of the shared
 * rules of `retry-rules.ts`: within `1 + retries` attempts, not after the caller aborted or the
 * dispatcher was destroyed, and only when an eligible backend is left that the request has not tried.
 */
import type { Backend, BackendSet } from '@fulcrum/core'
import type { ProxyPhase } from '../errors.js'
import { hasUntried, safeToRetry } from '../retry-rules.js'
import { type AttemptCore, Stage } from './request-state.js'
import { replayableBody } from './user-handler.js'

/** @internal What the decision reads from a request. */
export interface RetryCandidate {
  readonly backend: Backend | undefined
  readonly attempts: number
  readonly aborted: boolean
  readonly method: string
  readonly options: { readonly body?: unknown }
  readonly tried: BackendSet | undefined
}

/**
 * @internal True when the request may be retried after a failure of `kind` (`connect` when nothing
 * was written: then even a streamed body is still unread and can go elsewhere).
 */
export function mayRetry(core: AttemptCore, r: RetryCandidate, kind: string): boolean {
  if (r.aborted || core.destroyed || r.attempts > core.config.retries) return false
  const replayable = kind === 'connect' || replayableBody(r.options.body)
  return safeToRetry(kind, r.method, replayable) && hasUntried(core.balancer, r.backend, r.tried)
}

/** @internal Where an attempt in `stage` was when it failed (`status` is the last head's, 0 if none). */
export function failurePhase(stage: number, status: number): ProxyPhase {
  if (stage === Stage.PENDING) return 'connect'
  if (stage === Stage.CONNECTED) return 'request-body'
  if (stage === Stage.SENT || status < 200) return 'response-headers'
  return 'response-body'
}

const CALLER_ERRORS = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH'])

/** @internal True for an error undici raises about the request itself (bad path, header, body length). */
export function isCallerError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && CALLER_ERRORS.has(code)
}

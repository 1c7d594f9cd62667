/**
 * How a proxied request ends: the exchange follows the client's response (its `close` ends the
 * exchange and calls `onLog` exactly once), fails with an error (the `onError` hook, else the
 * default answer), runs out of its overall deadline, loses its client (the attempt in flight is
 * booked `cancelled`), or hands the connection to an upgrade relay that reports its own end.
 */
import type { ServerResponse } from 'node:http'
import { CANCELLED } from '@fulcrum/core'
import { clientAbortedError, deadlineError, type ProxyError, type ProxyPhase } from './errors.js'
import type { ProxyExchange } from './exchange.js'
import { Stage } from './exchange-context.js'
import { writeError } from './local-answers.js'
import { RequestBody } from './request-body.js'

/** @internal The property tying a client response to its exchange, for the shared listeners. */
export const kExchange = Symbol('fulcrum.exchange')

/** @internal A client response tagged with its exchange (while it is followed). */
export type TaggedResponse = ServerResponse & { [kExchange]?: ProxyExchange | undefined }

/** The shared `close` listener of every followed response. */
function onResClose(this: TaggedResponse): void {
  const x = this[kExchange]
  if (x !== undefined) clientClosed(x)
}

/** @internal The overall deadline's timer callback. */
export function onDeadline(x: ProxyExchange): void {
  deadlinePassed(x)
}

/** Calls `onLog`; a logger that throws must not take the process down, so its error is dropped. */
function callOnLog(x: ProxyExchange): void {
  const onLog = x.core.config.hooks.onLog
  if (onLog === undefined) return
  try {
    onLog(x)
  } catch {
    // Logging failed; the request itself is over either way.
  }
}

/** @internal Follows the response of `x`: its `close` ends the exchange (and calls `onLog`). */
export function followResponse(x: ProxyExchange): void {
  ;(x.res as TaggedResponse)[kExchange] = x
  x.res.on('close', onResClose)
}

/**
 * @internal Hands the connection of `x` over to an upgrade relay: the response object lets go of
 * the socket and the exchange stops following it. The relay reports the end with {@link upgradeEnded}.
 */
export function detachResponse(x: ProxyExchange): void {
  const res = x.res
  res.off('close', onResClose)
  ;(res as TaggedResponse)[kExchange] = undefined
  if (res.socket !== null) res.detachSocket(res.socket)
}

/** @internal An upgrade relay of `x` ended (tunnel closed, or refused with `error`): logs it once. */
export function upgradeEnded(x: ProxyExchange, status: number, error: ProxyError | undefined): void {
  if (x.stage === Stage.Done) return
  x.stage = Stage.Done
  x.status = status
  if (error !== undefined) x.error = error
  callOnLog(x)
}

/** @internal Ends `x` with `error`: the default answer, unless `onError` writes one. */
export function failWith(x: ProxyExchange, error: ProxyError): void {
  x.stage = Stage.Done
  x.error = error
  const res = x.res
  if (res.headersSent) {
    res.destroy()
    return
  }
  x.status = error.status
  const onError = x.core.config.hooks.onError
  if (onError !== undefined) {
    try {
      if (onError(x, error) === true) return
    } catch {
      // A throwing onError falls back to the default answer.
    }
    if (res.headersSent) {
      res.destroy()
      return
    }
  }
  writeError(res, error)
}

/**
 * @internal The balancer's overall deadline (`.retry({ timeoutMs })`) for `x` passed: a held
 * attempt is aborted with the deadline error (undici's `onError` books and answers it), anything
 * else fails now.
 */
export function deadlinePassed(x: ProxyExchange): void {
  x.deadlineTimer = undefined
  if (x.stage === Stage.Done || x.clientGone) return
  const phase: ProxyPhase = x.stage >= Stage.Body ? 'response-body' : 'response-headers'
  const error = deadlineError(phase, x.backend?.id)
  if (x.retryTimer !== undefined) clearTimeout(x.retryTimer)
  const queued = x.queued
  queued?.abort(error)
  if (x.held && queued === undefined) {
    x.abortError = error
    x.upstreamAbort?.(error)
  } else failWith(x, error)
}

/**
 * @internal The response of `x` closed: finished, or the client went away first (then the attempt
 * in flight, a retry timer or a queued pick is cancelled). Clears the deadline and calls `onLog`.
 */
export function clientClosed(x: ProxyExchange): void {
  const res = x.res
  ;(res as TaggedResponse)[kExchange] = undefined
  if (!res.writableFinished && !x.clientGone) {
    x.clientGone = true
    if (x.stage !== Stage.Done || x.error === undefined)
      x.error ??= clientAbortedError(
        x.stage >= Stage.Body ? 'response-body' : 'response-headers',
        x.backend?.id,
      )
    if (x.retryTimer !== undefined) clearTimeout(x.retryTimer)
    x.queued?.abort(x.error)
    if (x.held) {
      x.core.balancer.release(x, CANCELLED)
      x.upstreamAbort?.(x.error)
    }
    if (x.requestBody instanceof RequestBody) x.requestBody.destroy()
  }
  // A hook may have answered (onRequest, onError): report the status it sent.
  if (x.deadlineTimer !== undefined) clearTimeout(x.deadlineTimer)
  if (res.headersSent) x.status = res.statusCode
  callOnLog(x)
}

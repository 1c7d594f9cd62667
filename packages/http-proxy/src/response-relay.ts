/**
 * Writing an upstream response to the client: the head (end-to-end fields, the sticky cookie,
 * `onUpstreamResponse`), the body with backpressure (undici is paused while the client's buffer is
 * full and resumed on `drain`), then the trailers and the end.
 */

import { kExchange, type TaggedResponse } from './ending.js'
import { hookError } from './errors.js'
import type { ProxyExchange } from './exchange.js'
import { Stage } from './exchange-context.js'
import { type RawHeaders, responseHeaders, trailerPairs } from './response-head.js'

/** The shared `drain` listener: the client can take more body, so undici may resume. */
function onResDrain(this: TaggedResponse): void {
  this[kExchange]?.upstreamResume?.()
}

/**
 * @internal Writes the final response head with `status` of `x` to the client, keeping `resume` for
 * backpressure. False when the attempt was aborted instead (`onUpstreamResponse` threw: the backend
 * is booked `cancelled` and the client gets 500; or the head could not be written).
 */
export function relayHead(
  x: ProxyExchange,
  status: number,
  raw: RawHeaders,
  resume: () => void,
  statusText: string,
): boolean {
  const config = x.core.config
  const headers = responseHeaders(raw)
  if (config.sticky !== undefined && !x.pinned)
    headers.push('set-cookie', config.sticky.setCookie(x.backend!))
  if (config.hooks.onUpstreamResponse !== undefined) {
    try {
      config.hooks.onUpstreamResponse(x, status, headers)
    } catch (err) {
      // The hook's fault, not the backend's: the backend is booked as cancelled, the client gets 500.
      x.abortError = hookError('onUpstreamResponse', err)
      x.upstreamAbort?.(x.abortError)
      return false
    }
  }
  x.status = status
  x.upstreamResume = resume
  const res = x.res
  try {
    if (statusText.length > 0) res.writeHead(status, statusText, headers)
    else res.writeHead(status, headers)
  } catch (err) {
    x.upstreamAbort?.(err as Error)
    return false
  }
  x.stage = Stage.Body
  return true
}

/**
 * @internal undici's `onData` for `x`: writes `chunk` to the client (or drops it while a retried
 * status is discarded). False pauses undici until the client's `drain`.
 */
export function relayData(x: ProxyExchange, chunk: Buffer): boolean {
  if (x.discardBody) return true
  const res = x.res
  if (res.write(chunk)) return true
  if (!x.drainHooked) {
    x.drainHooked = true
    res.on('drain', onResDrain)
  }
  return false
}

/** @internal Ends the response of `x` to the client, with the upstream's trailers if any. */
export function relayEnd(x: ProxyExchange, trailers: RawHeaders | null): void {
  const res = x.res
  if (trailers !== null && trailers.length > 0) res.addTrailers(trailerPairs(trailers))
  res.end()
}

/**
 * Calls into the caller's dispatch handler, whichever of undici's two handler APIs it implements:
 * the legacy callbacks (`onConnect`, `onHeaders`, `onData`, `onComplete`, `onError`, `onUpgrade` —
 * what undici's `request`, `stream`, `pipeline` and `fetch` use) or the controller API
 * (`onRequestStart`, `onResponseStart`, `onResponseData`, `onResponseEnd`, `onResponseError`,
 * `onRequestUpgrade`). The API is detected once per request, as undici does it; a controller-API
 * handler gets the request's attempt object as its controller, so no adapter is allocated.
 */
import type { Duplex } from 'node:stream'
import { type Dispatcher, util } from 'undici'

/** @internal A header list as undici hands it over (`[name, value, …]`). */
export type RawList = Buffer[]

type Handler = Dispatcher.DispatchHandler
type Controller = Dispatcher.DispatchController & { rawHeaders?: unknown; rawTrailers?: unknown }

/** @internal True for a controller-API handler (undici's own test: it has `onRequestStart`). */
export function usesController(handler: Handler): boolean {
  return typeof handler.onRequestStart === 'function'
}

/** @internal The request starts: `onRequestStart(controller)` or `onConnect(abort)`. */
export function callStart(
  h: Handler,
  modern: boolean,
  controller: Controller,
  abort: (err?: Error) => void,
): void {
  if (modern) h.onRequestStart!(controller, undefined)
  else h.onConnect?.(abort)
}

/** @internal A response head (1xx or final); returns false when the handler wants to pause. */
export function callHeaders(
  h: Handler,
  modern: boolean,
  controller: Controller,
  status: number,
  raw: RawList,
  resume: () => void,
  statusText: string,
): boolean {
  if (!modern) return h.onHeaders?.(status, raw, resume, statusText) !== false
  controller.rawHeaders = raw
  h.onResponseStart?.(controller, status, util.parseHeaders(raw), statusText)
  return !controller.paused
}

/** @internal A chunk of the response body; returns false when the handler wants to pause. */
export function callData(h: Handler, modern: boolean, controller: Controller, chunk: Buffer): boolean {
  if (!modern) return h.onData?.(chunk) !== false
  h.onResponseData?.(controller, chunk)
  return !controller.paused
}

/** @internal The response ended. */
export function callComplete(
  h: Handler,
  modern: boolean,
  controller: Controller,
  trailers: RawList | null,
): void {
  if (!modern) {
    h.onComplete?.(trailers as string[] | null)
    return
  }
  controller.rawTrailers = trailers
  h.onResponseEnd?.(controller, util.parseHeaders(trailers ?? []))
}

/** @internal The request failed; a handler without an error callback gets the error thrown, as in undici. */
export function callError(h: Handler, modern: boolean, controller: Controller, err: Error): void {
  if (modern) {
    if (h.onResponseError === undefined) throw err
    h.onResponseError(controller, err)
  } else {
    if (h.onError === undefined) throw err
    h.onError(err)
  }
}

/** @internal The connection was upgraded (WebSocket, CONNECT). */
export function callUpgrade(
  h: Handler,
  modern: boolean,
  controller: Controller,
  status: number,
  raw: RawList,
  socket: Duplex,
): void {
  if (!modern) {
    h.onUpgrade?.(status, raw, socket)
    return
  }
  controller.rawHeaders = raw
  h.onRequestUpgrade?.(controller, status, util.parseHeaders(raw), socket)
}

/** @internal True when undici can send `body` again on another attempt (it is not read away). */
export function replayableBody(body: unknown): boolean {
  return (
    body === null ||
    body === undefined ||
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof ArrayBuffer
  )
}

type HeaderRecord = Record<string, string | string[] | undefined>

function put(out: HeaderRecord, name: unknown, value: unknown): void {
  if (value === undefined || value === null) return
  const key = String(name).toLowerCase()
  const v = Array.isArray(value) ? value.map(String) : String(value)
  const prev = out[key]
  if (prev === undefined) out[key] = v
  else out[key] = ([] as string[]).concat(prev, v)
}

/**
 * @internal The request headers as a record, for key extractors: a plain object is returned as it
 * is; a flat `[name, value, …]` array or an iterable of pairs is converted (names lower-cased).
 */
export function headerRecord(headers: Dispatcher.DispatchOptions['headers']): HeaderRecord | undefined {
  if (headers === null || headers === undefined) return undefined
  if (Array.isArray(headers)) {
    const out: HeaderRecord = {}
    for (let i = 0; i + 1 < headers.length; i += 2) put(out, headers[i], headers[i + 1])
    return out
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    const it = (headers as Iterable<[string, unknown]>)[Symbol.iterator]()
    // A one-shot iterator (a generator) is left to undici: reading it here would empty the request.
    if ((it as unknown) === headers) return undefined
    const out: HeaderRecord = {}
    for (let r = it.next(); r.done !== true; r = it.next()) put(out, r.value[0], r.value[1])
    return out
  }
  return headers as HeaderRecord
}

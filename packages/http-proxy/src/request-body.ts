/**
 * Request bodies. A small body of known length is buffered so that a retry can replay it. A larger
 * or chunked body streams through {@link RequestBody}: a Readable fed from the client's request
 * with backpressure, which undici may destroy on an upstream failure without destroying the
 * client's request, so the proxy can still answer it — and which knows whether any byte was read,
 * since only an untouched body can go to another backend.
 */
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'

const kBody = Symbol('fulcrum.requestBody')

type Fed = IncomingMessage & { [kBody]?: RequestBody | undefined }

function onData(this: Fed, chunk: Buffer): void {
  const body = this[kBody]
  if (body === undefined) return
  body.consumed = true
  if (!body.push(chunk)) this.pause()
}

function onEnd(this: Fed): void {
  this[kBody]?.push(null)
}

function onError(this: Fed, err: Error): void {
  this[kBody]?.destroy(err)
}

/** The error a body stream ends with when the client goes away mid-upload. */
function abortedBodyError(): Error {
  return Object.assign(new Error('The client aborted the request body'), { code: 'ECONNRESET' })
}

function onAborted(this: Fed): void {
  this[kBody]?.destroy(abortedBodyError())
}

/** @internal A client request body on its way upstream. */
export class RequestBody extends Readable {
  /** True once a byte was read from the client: the body can no longer be sent elsewhere. */
  consumed = false
  readonly #req: Fed

  constructor(req: IncomingMessage) {
    super({ highWaterMark: 64 * 1024 })
    const fed = req as Fed
    this.#req = fed
    fed[kBody] = this
    fed.on('data', onData)
    fed.on('end', onEnd)
    fed.on('error', onError)
    fed.on('aborted', onAborted)
    fed.pause()
  }

  override _read(): void {
    this.#req.resume()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#detach()
    cb(err)
  }

  #detach(): void {
    const req = this.#req
    if (req[kBody] !== this) return
    req[kBody] = undefined
    req.off('data', onData)
    req.off('end', onEnd)
    req.off('error', onError)
    req.off('aborted', onAborted)
    req.pause()
  }
}

/**
 * @internal Reads a whole body of `length` bytes; `done(null, buffer)` on success, `done(err)` when
 * the client errs or aborts first. Called only for bodies up to the replay limit.
 */
export function bufferBody(
  req: IncomingMessage,
  length: number,
  done: (err: Error | null, body?: Buffer) => void,
): void {
  const chunks: Buffer[] = []
  let size = 0
  const finish = (err: Error | null): void => {
    req.off('data', data)
    req.off('end', end)
    req.off('error', finish)
    req.off('aborted', aborted)
    if (err !== null) done(err)
    else done(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
  }
  const data = (chunk: Buffer): void => {
    chunks.push(chunk)
    size += chunk.length
  }
  const end = (): void =>
    finish(size === length ? null : new Error('Request body shorter than Content-Length'))
  const aborted = (): void => finish(abortedBodyError())
  req.on('data', data)
  req.on('end', end)
  req.on('error', finish)
  req.on('aborted', aborted)
}

/**
 * A retryable answer (503 …) whose body is being discarded for a retry, kept in memory up to a
 * size so that, when the retry cannot happen after all (no backend left to pick), the caller still
 * gets the backend's answer as it was sent rather than a synthetic error.
 */
import type { RawList } from './user-handler.js'

/** Bodies up to this size are kept; a larger one is dropped and the request fails with a status error. */
const MAX_KEPT_BYTES = 65_536

/** @internal One discarded answer. Allocated only on the status-retry path. */
export class KeptAnswer {
  readonly status: number
  readonly statusText: string
  readonly rawHeaders: RawList
  readonly chunks: Buffer[] = []
  trailers: RawList | null = null
  /** True once the whole answer arrived and fitted. */
  complete = false
  #bytes = 0
  #overflow = false

  constructor(status: number, statusText: string, rawHeaders: RawList) {
    this.status = status
    this.statusText = statusText
    this.rawHeaders = rawHeaders
  }

  add(chunk: Buffer): void {
    if (this.#overflow) return
    this.#bytes += chunk.length
    if (this.#bytes <= MAX_KEPT_BYTES) this.chunks.push(chunk)
    else {
      this.#overflow = true
      this.chunks.length = 0
    }
  }

  end(trailers: RawList | null): void {
    this.trailers = trailers
    this.complete = !this.#overflow
  }
}

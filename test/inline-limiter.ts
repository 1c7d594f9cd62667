/**
 * A tiny inline admission plugin for the overload tests of both proxies: it exercises core's
 * admission contract directly (`admit` alone, or `admit` + `waitForCapacity`), including the sync
 * refusal path that `@fulcrum/breaker`'s `concurrencyLimit()` (which always queues) never takes.
 */
import { OverloadError, type Plugin } from '@fulcrum/core'

/** The plugin and what it counts. */
export interface Limiter {
  readonly plugin: Plugin<never>
  /** Requests holding a slot. */
  active: number
  /** Requests waiting in the queue. */
  readonly waiting: number
  /** `waitForCapacity` calls. */
  queued: number
}

/**
 * Holds at most `max` requests (`admit` + `onAcquire`/`onRelease`); with `queue`, up to `size`
 * refused picks wait (FIFO, woken by a release) for at most `timeoutMs`.
 */
export function limiter(
  max: number,
  queue?: { size: number; timeoutMs: number },
  retryAfterMs = 2_500,
): Limiter {
  const wakers: (() => void)[] = []
  const refuse = (reason: string): OverloadError => new OverloadError('test-limit', reason, retryAfterMs)
  const plugin: Plugin = {
    name: 'test-limit',
    admit: () => l.active < max,
    onAcquire: () => {
      l.active++
    },
    onRelease: () => {
      l.active--
      wakers.shift()?.()
    },
    ...(queue === undefined
      ? {}
      : {
          waitForCapacity: (_ctx: unknown, _queuedAt: number, signal?: AbortSignal) =>
            new Promise<void>((resolve, reject) => {
              l.queued++
              if (wakers.length >= queue.size) {
                reject(refuse('maxPending'))
                return
              }
              const leave = (): void => {
                clearTimeout(timer)
                signal?.removeEventListener('abort', aborted)
                const i = wakers.indexOf(wake)
                if (i >= 0) wakers.splice(i, 1)
              }
              const wake = (): void => {
                leave()
                resolve()
              }
              const aborted = (): void => {
                leave()
                reject(signal!.reason)
              }
              const timer = setTimeout(() => {
                leave()
                reject(refuse('queueTimeout'))
              }, queue.timeoutMs)
              wakers.push(wake)
              signal?.addEventListener('abort', aborted, { once: true })
            }),
        }),
  }
  const l = {
    plugin,
    active: 0,
    queued: 0,
    get waiting() {
      return wakers.length
    },
  }
  return l
}

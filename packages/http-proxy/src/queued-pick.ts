/**
 * The slow path of a pick that admission control refused while its plugin queues: the request
 * waits in the queue (`balancer.acquireAsync`) instead of being answered 503 at once. Only this
 * path allocates (an `AbortController`, a promise and its callbacks); the exchange aborts the wait
 * when the client goes away or the overall deadline passes.
 */
import { CANCELLED } from '@fulcrum/core'
import { pickError } from './errors.js'
import type { ProxyExchange } from './exchange.js'

/**
 * @internal Queues the first pick of `x`: once a backend is acquired the attempt is sent exactly as
 * after a sync pick; a refusal (full queue, queue timeout) is answered 503 `FULCRUM_ERR_OVERLOAD`.
 * When the wait was aborted, the exchange has ended already: nothing more is written, and a backend
 * acquired in the meantime is released as `cancelled`.
 */
export function waitInQueue(x: ProxyExchange): void {
  const ac = new AbortController()
  x.queued = ac
  x.core.balancer.acquireAsync(x.pickContext as never, x, undefined, ac.signal).then(
    () => {
      x.queued = undefined
      if (ac.signal.aborted) x.core.balancer.release(x, CANCELLED)
      else {
        x.pinned = false
        x.send()
      }
    },
    (err: unknown) => {
      x.queued = undefined
      if (!ac.signal.aborted) x.fail(pickError(err))
    },
  )
}

/**
 * @internal The slow path of a pick that admission control refused while its plugin queues: the
 * connection waits in the queue (`balancer.acquireAsync`), its client still paused so that early
 * bytes stay buffered, then connects as after a sync pick. Only this path allocates (an
 * `AbortController`, a promise and its callbacks); the client leaving aborts the wait.
 */
import { CANCELLED, isOverloadError } from '@fulcrum/core'
import type { TcpConnection } from './connection.js'
import { CLOSED } from './connection-state.js'

/** True when `c` ended (or is ending) while it waited: nothing more may happen to it. */
function over(c: TcpConnection, ac: AbortController): boolean {
  return ac.signal.aborted || c.reason !== undefined || c.state === CLOSED
}

/**
 * @internal Queues the first pick of `c`. A backend acquired after the connection ended is released
 * as `cancelled`; a refusal (full queue, queue timeout) closes the client with reason `overload`.
 */
export function waitInQueue(c: TcpConnection): void {
  const ac = new AbortController()
  c.queued = ac
  c.balancer!.acquireAsync(c.ctx, c, c.tried, ac.signal).then(
    (backend) => {
      c.queued = undefined
      if (over(c, ac)) c.balancer!.release(c, CANCELLED)
      else c.use(backend)
    },
    (err: unknown) => {
      c.queued = undefined
      if (!over(c, ac)) c.fail(isOverloadError(err) ? 'overload' : 'no-backend', err)
    },
  )
}

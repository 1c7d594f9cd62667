import { EventEmitter } from 'node:events'
import type net from 'node:net'
import type { Backend, Balancer } from '@fulcrum/core'
import { TcpConnection } from './connection.js'
import type { TcpErrorReason, TcpProxyEventName, TcpProxyEvents } from './events.js'
import type { ResolvedTcpProxyOptions } from './options.js'
import { TrafficBook } from './stats.js'
import type { TcpContext } from './types.js'

/**
 * @internal What connections share: the options, the balancer (or route), the counters, the
 * event emitter and the set of live connections. `TcpProxy` is its public face.
 */
export class ProxyHub {
  readonly options: ResolvedTcpProxyOptions
  readonly balancer: Balancer<TcpContext> | undefined
  readonly book = new TrafficBook()
  readonly events = new EventEmitter<TcpProxyEvents>()
  readonly live = new Set<TcpConnection>()
  #nextId = 1
  /** Called when the last live connection closes while the proxy is closing. */
  onEmpty: (() => void) | undefined = undefined

  constructor(options: ResolvedTcpProxyOptions, balancer: Balancer<TcpContext> | undefined) {
    this.options = options
    this.balancer = balancer
  }

  #listening(event: TcpProxyEventName): boolean {
    return this.events.listenerCount(event) > 0
  }

  /** Takes over an accepted socket. */
  accept(socket: net.Socket): void {
    const c = new TcpConnection(this, this.#nextId++, socket)
    this.book.total++
    this.live.add(c)
    c.start()
  }

  /** A backend accepted `c` (or it was blackholed): `connection:open`. */
  opened(c: TcpConnection): void {
    if (!this.#listening('connection:open')) return
    this.events.emit('connection:open', {
      id: c.id,
      ctx: c.ctx,
      backend: c.backend!,
      attempts: c.attempts,
      connectMs: c.connectMs,
      blackholed: c.blackholed,
    })
  }

  /** `c` fails over from `failed` to `next`: `connection:retry`. */
  retried(c: TcpConnection, failed: Backend, next: Backend): void {
    if (!this.#listening('connection:retry')) return
    this.events.emit('connection:retry', {
      id: c.id,
      ctx: c.ctx,
      backend: failed,
      next,
      attempt: c.attempts - 1,
      error: c.lastError,
    })
  }

  /** `c` cannot be relayed: `connection:error`. */
  failed(c: TcpConnection, reason: TcpErrorReason, error: unknown): void {
    this.book.errors++
    if (!this.#listening('connection:error')) return
    this.events.emit('connection:error', { id: c.id, ctx: c.ctx, reason, error, attempts: c.attempts })
  }

  /** `c` is over (sockets closed, lease released): books its bytes, `connection:close`. */
  closed(c: TcpConnection): void {
    this.live.delete(c)
    this.book.close(c.bytesIn, c.bytesOut, c.traffic)
    if (this.#listening('connection:close'))
      this.events.emit('connection:close', {
        id: c.id,
        ctx: c.ctx,
        backend: c.backend,
        reason: c.reason ?? 'end',
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        durationMs: performance.now() - c.acceptedAt,
        error: c.error,
      })
    if (this.live.size === 0) this.onEmpty?.()
  }

  /** Closes every live connection now (`close()` after its grace period). */
  destroyAll(): void {
    for (const c of [...this.live]) c.teardown('drain', 'cancelled')
  }
}

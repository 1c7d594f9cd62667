import type net from 'node:net'
import type { Duplex } from 'node:stream'
import {
  type Backend,
  BackendSet,
  type Balancer,
  CANCELLED,
  type FailureKind,
  isOverloadError,
  type LeaseSlot,
  type Outcome,
} from '@fulcrum/core'
import { contextOf, type MutableTcpContext, proxyAddressesOf, proxyVersionFor } from './addresses.js'
import { BLACKHOLE, CLOSED, CONNECTING, OPEN, PREAMBLE } from './connection-state.js'
import { NoRouteError } from './errors.js'
import type { TcpCloseReason, TcpErrorReason } from './events.js'
import type { ProxyHub } from './hub.js'
import { clientOnClose, clientOnError, dial, endClientLater, endUpstreamLater } from './lifecycle.js'
import { readPreamble } from './preamble.js'
import { encodeProxyHeader } from './proxy-protocol/encode.js'
import { waitInQueue } from './queued-pick.js'
import {
  armIdle,
  attachBlackhole,
  attachRelay,
  clientOnEnd,
  endUpstreamSide,
  kConn,
  type Tagged,
} from './relay.js'
import { resetWhenFlushed } from './reset.js'
import type { LiveTraffic, TrafficRecord } from './stats.js'
import type { Direction, TcpContext } from './types.js'

const CONNECT_FAILURE: Outcome = Object.freeze({ ok: false, error: 'connect' })

/**
 * @internal One proxied connection: the client socket, the upstream socket, the lease slot fields
 * (so a connection allocates no lease), the backends tried, byte counters and timers. Its sockets'
 * listeners are shared module-level functions (`relay.ts`, `lifecycle.ts`). Every path ends in `#finish()`:
 * both sockets destroyed, the slot released exactly once, timers cleared, `connection:close`.
 */
export class TcpConnection implements LeaseSlot, LiveTraffic {
  // LeaseSlot: filled by balancer.acquire(), emptied by balancer.release().
  backend: Backend | undefined = undefined
  startedAt = 0
  held = false

  readonly id: number
  readonly hub: ProxyHub
  readonly client: Tagged
  readonly ctx: MutableTcpContext
  readonly tried = new BackendSet()
  readonly acceptedAt = performance.now()
  state = PREAMBLE
  balancer: Balancer<TcpContext> | undefined = undefined
  upstream: Tagged | undefined = undefined
  wrapUp: Duplex | undefined = undefined
  wrapDown: Duplex | undefined = undefined
  traffic: TrafficRecord | undefined = undefined
  attempts = 0
  connectStartedAt = 0
  connectMs = 0
  bytesIn = 0
  bytesOut = 0
  /** The upstream socket reads with `onread` (no fault hooks); its reused buffer once it has read. */
  reusedReads = false
  downBuffer: Buffer | undefined = undefined
  opened = false
  blackholed = false
  clientEnded = false
  upstreamEnded = false
  clientClosed = false
  upstreamClosed = true
  upEndTimer: NodeJS.Timeout | undefined = undefined
  downEndTimer: NodeJS.Timeout | undefined = undefined
  /** The last connect attempt's error. */
  lastError: unknown = undefined
  /** Why the connection ends: the first cause wins. */
  reason: TcpCloseReason | undefined = undefined
  failure: FailureKind | undefined = undefined
  error: unknown = undefined
  /** The first pick's wait in the admission queue; aborted when the client goes. */
  queued: AbortController | undefined = undefined

  constructor(hub: ProxyHub, id: number, client: net.Socket) {
    this.hub = hub
    this.id = id
    this.client = client as Tagged
    this.ctx = contextOf(client)
  }

  start(): void {
    const client = this.client
    client[kConn] = this
    client.on('error', clientOnError)
    client.on('close', clientOnClose)
    client.on('end', clientOnEnd)
    if (client.destroyed) {
      this.setCause('client-gone', 'cancelled', undefined)
      this.clientClosed = true
      this.#finish()
      return
    }
    client.pause() // nothing is read until a backend is connected: early bytes wait in the buffer
    const o = this.hub.options
    if (o.acceptProxyProtocol !== undefined || o.sniTimeoutMs !== undefined) void readPreamble(this)
    else this.route()
  }

  /** Picks the balancer (and the key), then the first backend. */
  route(): void {
    this.state = CONNECTING
    const o = this.hub.options
    try {
      this.ctx.key = o.key === undefined ? this.ctx.remoteAddress : o.key(this.ctx)
      this.balancer = this.hub.balancer ?? o.route!(this.ctx)
    } catch (error) {
      this.fail('no-route', new NoRouteError(this.ctx, { cause: error }))
      return
    }
    if (this.balancer === undefined) {
      this.fail('no-route', new NoRouteError(this.ctx))
      return
    }
    this.#connectNext()
  }

  #connectNext(): void {
    const failed = this.attempts > 0 ? this.backend : undefined
    let backend: Backend
    try {
      backend = this.balancer!.acquire(this.ctx, this, this.tried)
    } catch (error) {
      // A refused first pick waits in the admission queue when a plugin queues (the client stays
      // paused, its early bytes buffered); a failover's refused pick ends with the connect error.
      if (failed !== undefined) this.fail('connect-failed', this.lastError)
      else if (!isOverloadError(error)) this.fail('no-backend', error)
      else if (this.balancer!.queues) waitInQueue(this)
      else this.fail('overload', error)
      return
    }
    this.use(backend, failed)
  }

  /** Connects to `backend`, just acquired into this slot (failing over from `failed`). */
  use(backend: Backend, failed?: Backend): void {
    this.attempts++
    this.tried.add(backend)
    if (failed !== undefined) this.hub.retried(this, failed, backend)
    this.traffic = this.hub.book.record(backend)
    if (this.hub.options.faults?.blackhole(backend) === true) {
      this.#blackhole()
      return
    }
    this.connectStartedAt = performance.now()
    this.upstream = dial(this, backend)
    this.upstreamClosed = false
  }

  /** A connect attempt ended without a connection (its socket closed). */
  #attemptFailed(): void {
    if (this.reason !== undefined) {
      // The client went away (or the proxy is shutting down) while connecting: not the backend's fault.
      this.balancer!.release(this, CANCELLED)
      this.#tryFinish()
      return
    }
    this.balancer!.release(this, CONNECT_FAILURE)
    this.traffic!.connectFailures++
    if (this.attempts > this.hub.options.retries) this.fail('connect-failed', this.lastError)
    else this.#connectNext()
  }

  upstreamConnected(): void {
    const up = this.upstream!
    up.setTimeout(0)
    this.connectMs = performance.now() - this.connectStartedAt
    if (this.reason !== undefined) return
    this.state = OPEN
    const backend = this.backend!
    const o = this.hub.options
    const version = proxyVersionFor(backend, o.sendProxyProtocol)
    if (version !== undefined) {
      let header: Buffer
      try {
        header = encodeProxyHeader(version, proxyAddressesOf(this.ctx))
      } catch (error) {
        // Addresses the codec refuses: nothing was sent, so the client is closed like a failed pick.
        this.balancer!.release(this, CANCELLED)
        up.destroy()
        this.fail('proxy-protocol', error)
        return
      }
      up.write(header)
    }
    const faults = o.faults
    if (faults !== undefined) {
      this.wrapUp = faults.wrap('upstream', backend)
      this.wrapDown = faults.wrap('downstream', backend)
    }
    attachRelay(this)
    this.#opened()
    if (this.clientEnded) endUpstreamSide(this) // the client half-closed while we were connecting
  }

  #blackhole(): void {
    this.state = BLACKHOLE
    this.blackholed = true
    attachBlackhole(this)
    this.#opened()
    if (this.clientEnded) this.clientEnd()
  }

  /**
   * The client sent its FIN (`'end'`). While connecting it is only noted (forwarded once connected);
   * while queued the client leaves the queue: a paused socket only ends with nothing unread, and a
   * client that sent nothing and left must not hold a queue place.
   */
  clientEnd(): void {
    if (this.state === OPEN) endUpstreamSide(this)
    else if (this.state === BLACKHOLE) this.teardown('end', 'cancelled')
    else if (this.queued !== undefined) this.teardown('client-gone', 'cancelled')
  }

  #opened(): void {
    this.opened = true
    this.traffic!.connections++
    this.traffic!.active++
    const idleMs = this.hub.options.idleTimeoutMs
    if (idleMs > 0) armIdle(this.client, idleMs)
    this.hub.opened(this)
    this.client.resume()
  }

  /** Forwards a FIN in `direction`, after the fault hooks' close delay. */
  forwardEnd(direction: Direction): void {
    const faults = this.hub.options.faults
    const ms = faults === undefined ? 0 : faults.closeDelayMs(direction, this.backend!)
    if (ms <= 0) this.endNow(direction)
    else if (direction === 'upstream') this.upEndTimer = setTimeout(endUpstreamLater, ms, this)
    else this.downEndTimer = setTimeout(endClientLater, ms, this)
  }

  endNow(direction: Direction): void {
    const s = direction === 'upstream' ? this.upstream : this.client
    if (s !== undefined && !s.destroyed && !s.writableEnded) s.end()
  }

  clientClose(): void {
    this.clientClosed = true
    if (this.state === CLOSED) return
    const up = this.upstream
    if (this.state === OPEN && !this.upstreamClosed && up !== undefined) {
      if (this.clientEnded && this.upstreamEnded) {
        // Both FINs seen: the backend's side closes once it has flushed; bound that by the idle timeout.
        const idleMs = this.hub.options.idleTimeoutMs
        if (idleMs > 0) armIdle(up, idleMs)
      } else {
        this.setCause('client-reset', 'cancelled', undefined)
        up.destroy()
      }
    } else if (this.state < OPEN) {
      this.setCause('client-gone', 'cancelled', undefined)
      this.queued?.abort(this.error)
      if (up !== undefined && !this.upstreamClosed) up.destroy()
    }
    this.#tryFinish()
  }

  upstreamClose(): void {
    this.upstreamClosed = true
    if (this.state === CONNECTING) {
      this.#attemptFailed()
      return
    }
    if (this.state === OPEN && !this.clientClosed && !(this.clientEnded && this.upstreamEnded)) {
      // Closed without both FINs and without an error (destroyed from outside): do not leave the client.
      if (this.reason === undefined) {
        this.setCause('upstream-reset', 'reset', undefined)
        resetWhenFlushed(this.client)
      }
    }
    this.#tryFinish()
  }

  idle(): void {
    if (this.state === CLOSED) return
    this.teardown('idle', this.state === BLACKHOLE ? 'timeout' : undefined)
  }

  /** Closes both sides now (`failure` undefined: released as a success). */
  teardown(reason: TcpCloseReason, failure: FailureKind | undefined): void {
    this.setCause(reason, failure, undefined)
    this.client.destroy()
    if (this.upstream !== undefined && !this.upstreamClosed) this.upstream.destroy()
  }

  /** The connection cannot be relayed: say why and close the client at once. */
  fail(reason: TcpErrorReason, error: unknown): void {
    if (this.reason !== undefined) return
    this.setCause(reason, undefined, error)
    this.hub.failed(this, reason, error)
    this.client.destroy()
    this.#tryFinish()
  }

  setCause(reason: TcpCloseReason, failure: FailureKind | undefined, error: unknown): void {
    if (this.reason !== undefined) return
    this.reason = reason
    this.failure = failure
    this.error = error
  }

  #tryFinish(): void {
    if (this.clientClosed && this.upstreamClosed) this.#finish()
  }

  #finish(): void {
    if (this.state === CLOSED) return
    this.state = CLOSED
    if (this.reason === undefined) this.setCause('end', this.blackholed ? 'cancelled' : undefined, undefined)
    if (this.upEndTimer !== undefined) clearTimeout(this.upEndTimer)
    if (this.downEndTimer !== undefined) clearTimeout(this.downEndTimer)
    this.upEndTimer = this.downEndTimer = undefined
    this.wrapUp?.destroy()
    this.wrapDown?.destroy()
    if (this.held) this.balancer!.release(this, this.#outcome())
    if (this.opened) this.traffic!.active--
    this.hub.closed(this)
  }

  #outcome(): Outcome {
    const f = this.failure
    if (f === 'cancelled') return CANCELLED
    // An established connection reports its connect time as latency, not its (arbitrary) lifetime.
    const latency = this.opened && !this.blackholed ? this.connectMs : undefined
    if (f === undefined) return latency === undefined ? { ok: true } : { ok: true, latencyMs: latency }
    return latency === undefined ? { ok: false, error: f } : { ok: false, error: f, latencyMs: latency }
  }
}

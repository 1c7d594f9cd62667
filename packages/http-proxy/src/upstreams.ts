/**
 * One undici `Pool` per backend, created on first use and keyed by the backend's stable id. A
 * removed backend's pool is closed gracefully (requests in flight finish); `close()` closes all.
 */
import type { Backend, Balancer } from '@fulcrum/core'
import { type Dispatcher, Pool } from 'undici'
import { proxyClosedError } from './errors.js'
import type { UpstreamOptions } from './options.js'
import type { UpstreamPolicy } from './shared-options.js'

/** @internal Timeouts the pools are created with. */
export type UpstreamTimeouts = Pick<UpstreamPolicy, 'connectTimeoutMs' | 'headersTimeoutMs' | 'bodyTimeoutMs'>

/** @internal The origin (`http://host:port`) requests to `backend` go to. */
export function originOf(backend: Backend): string {
  if (backend.url !== undefined) {
    const u = new URL(backend.url)
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.origin
  }
  return `http://${backend.address}`
}

/** @internal The upstream dispatchers of one proxy or balanced dispatcher. */
export class Upstreams {
  readonly #pools = new Map<string, { readonly backend: Backend; readonly dispatcher: Dispatcher }>()
  readonly #options: UpstreamOptions
  readonly #timeouts: UpstreamTimeouts
  readonly #detach: () => void
  #closed = false

  constructor(balancer: Balancer<never>, options: UpstreamOptions, timeouts: UpstreamTimeouts) {
    this.#options = options
    this.#timeouts = timeouts
    const onRemove = (backend: Backend): void => this.#drop(backend)
    const onClose = (): void => void this.close()
    balancer.on('backend:remove', onRemove)
    balancer.on('balancer:close', onClose)
    this.#detach = () => {
      balancer.off('backend:remove', onRemove)
      balancer.off('balancer:close', onClose)
    }
  }

  /** The dispatcher of `backend`, created on first use; throws `FULCRUM_ERR_PROXY_CLOSED` after `close()`. */
  get(backend: Backend): Dispatcher {
    if (this.#closed) throw proxyClosedError()
    const entry = this.#pools.get(backend.id)
    if (entry !== undefined && entry.backend === backend) return entry.dispatcher
    if (entry !== undefined) void entry.dispatcher.close().catch(() => {})
    return this.#create(backend)
  }

  #create(backend: Backend): Dispatcher {
    const origin = originOf(backend)
    const o = this.#options
    const t = this.#timeouts
    const tls = typeof o.tls === 'function' ? o.tls(backend) : o.tls
    const options: Pool.Options = {
      connections: o.connections ?? 256,
      pipelining: 1,
      keepAliveTimeout: o.keepAliveTimeoutMs ?? 4_000,
      keepAliveMaxTimeout: Math.max(o.keepAliveTimeoutMs ?? 4_000, 600_000),
      headersTimeout: t.headersTimeoutMs,
      bodyTimeout: t.bodyTimeoutMs,
      connect: { timeout: t.connectTimeoutMs, ...(tls ?? {}) },
    }
    const dispatcher = o.factory ? o.factory(origin, options, backend) : new Pool(origin, options)
    this.#pools.set(backend.id, { backend, dispatcher })
    return dispatcher
  }

  #drop(backend: Backend): void {
    const entry = this.#pools.get(backend.id)
    if (entry === undefined || entry.backend !== backend) return
    this.#pools.delete(backend.id)
    void entry.dispatcher.close().catch(() => {})
  }

  /** Closes every pool (in-flight requests finish first) and stops following the balancer. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#detach()
    const all = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(all.map((e) => e.dispatcher.close().catch(() => {})))
  }

  /** Destroys every pool at once (sockets closed, in-flight requests fail). */
  async destroy(): Promise<void> {
    this.#closed = true
    this.#detach()
    const all = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(all.map((e) => e.dispatcher.destroy().catch(() => {})))
  }
}

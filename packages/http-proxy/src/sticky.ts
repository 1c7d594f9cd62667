/**
 * Sticky sessions by cookie. The value is an opaque keyed hash (HMAC-SHA256, base64url, 128 bits)
 * of the backend's stable id, so it reveals no address and cannot be forged to reach a backend of
 * the attacker's choosing; it survives weight changes and restarts when the secret is fixed.
 */
import { createHmac, randomBytes } from 'node:crypto'
import type { Backend, Balancer } from '@fulcrum/core'
import type { ResolvedSticky } from './config.js'

/** @internal The sticky-cookie codec and lookup table of one proxy. */
export class StickyCookies {
  /** The cookie name. */
  readonly name: string
  readonly #secret: Buffer | string
  readonly #balancer: Balancer<never>
  readonly #attributes: string
  readonly #values = new WeakMap<Backend, string>()
  readonly #setCookies = new WeakMap<Backend, string>()
  #byValue = new Map<string, Backend>()
  #version = -1

  constructor(balancer: Balancer<never>, options: ResolvedSticky) {
    this.name = options.cookie
    this.#secret = options.secret ?? randomBytes(32)
    this.#balancer = balancer
    let attrs = `; Path=${options.path}`
    if (options.maxAgeSeconds !== undefined) attrs += `; Max-Age=${options.maxAgeSeconds}`
    if (options.httpOnly) attrs += '; HttpOnly'
    if (options.secure || options.sameSite === 'None') attrs += '; Secure'
    this.#attributes = `${attrs}; SameSite=${options.sameSite}`
  }

  /** The cookie value that pins `backend`. */
  valueOf(backend: Backend): string {
    let v = this.#values.get(backend)
    if (v === undefined) {
      v = createHmac('sha256', this.#secret).update(backend.id).digest('base64url').slice(0, 22)
      this.#values.set(backend, v)
    }
    return v
  }

  /** The `Set-Cookie` value that pins `backend`. */
  setCookie(backend: Backend): string {
    let v = this.#setCookies.get(backend)
    if (v === undefined) {
      v = `${this.name}=${this.valueOf(backend)}${this.#attributes}`
      this.#setCookies.set(backend, v)
    }
    return v
  }

  /** The member backend a cookie value pins, or `undefined` for an unknown, forged or stale value. */
  backendFor(value: string): Backend | undefined {
    const pool = this.#balancer.pool
    if (pool.version !== this.#version) {
      const table = new Map<string, Backend>()
      for (const b of pool.all) table.set(this.valueOf(b), b)
      this.#byValue = table
      this.#version = pool.version
    }
    return this.#byValue.get(value)
  }

  /** The value of this proxy's cookie in a `Cookie` header, or `undefined`. */
  read(header: string): string | undefined {
    const name = this.name
    let from = 0
    while (from < header.length) {
      const at = header.indexOf(name, from)
      if (at < 0) return undefined
      const end = at + name.length
      const startsPair = at === 0 || header.charCodeAt(at - 1) === 32 || header.charCodeAt(at - 1) === 59
      if (startsPair && header.charCodeAt(end) === 61 /* = */) {
        const semi = header.indexOf(';', end + 1)
        return header.slice(end + 1, semi < 0 ? header.length : semi).trim()
      }
      from = end
    }
    return undefined
  }
}

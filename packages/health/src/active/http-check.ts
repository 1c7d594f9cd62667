import type { Backend } from '@fulcrum/core'
import { Client, type Dispatcher } from 'undici'
import { ActiveChecker, type ActiveHealthCheck } from './checker.js'
import {
  type BodyMatcher,
  type HttpCheckOptions,
  type ResolvedHttpOptions,
  resolveHttpOptions,
} from './http-options.js'
import { PASS, type Probe, type ProbeResult } from './probe.js'

type Body = Dispatcher.ResponseData['body']

const BODY_MISMATCH: ProbeResult = Object.freeze({ ok: false, reason: 'body mismatch' })
const ignore = (): void => {}

class HttpProbe implements Probe {
  readonly kind = 'http'
  readonly #o: ResolvedHttpOptions
  readonly #headers: readonly string[]
  /** One undici client per backend id, created at its first check. */
  readonly #clients = new Map<string, Client>()

  constructor(o: ResolvedHttpOptions) {
    this.#o = o
    this.#headers = o.host === undefined ? o.headers : ['host', o.host, ...o.headers]
  }

  async check(backend: Backend, signal: AbortSignal): Promise<ProbeResult> {
    const o = this.#o
    const client = this.#client(backend)
    try {
      const request: Dispatcher.RequestOptions & { servername?: string } = {
        path: o.path,
        method: o.method,
        headers: this.#headers as string[],
        signal,
        // `connection: close`, and the socket is closed after the response.
        reset: !o.reuseConnection,
        // No undici timers: the check's own timeout (on the balancer's scheduler) aborts `signal`.
        headersTimeout: 0,
        bodyTimeout: 0,
      }
      if (o.tls.servername !== undefined) request.servername = o.tls.servername
      const res = await client.request(request)
      const status = res.statusCode
      if (o.fail.has(status)) {
        await discard(res.body, o.maxBodyBytes)
        return { ok: false, reason: `status ${status}`, immediate: true }
      }
      if (!o.expect.has(status)) {
        await discard(res.body, o.maxBodyBytes)
        return { ok: false, reason: `status ${status}` }
      }
      if (o.body === undefined) {
        await discard(res.body, o.maxBodyBytes)
        return PASS
      }
      return matches(o.body, await readText(res.body, o.maxBodyBytes)) ? PASS : BODY_MISMATCH
    } catch (err) {
      // Timed out or closed: drop the client, so that no connection (even one still connecting) lingers.
      if (signal.aborted) this.#drop(backend.id, client)
      throw err
    }
  }

  forget(backend: Backend): void {
    const client = this.#clients.get(backend.id)
    if (client !== undefined) this.#drop(backend.id, client)
  }

  async close(): Promise<void> {
    const clients = [...this.#clients.values()]
    this.#clients.clear()
    await Promise.all(clients.map((c) => c.destroy().catch(ignore)))
  }

  #drop(id: string, client: Client): void {
    if (this.#clients.get(id) === client) this.#clients.delete(id)
    client.destroy().catch(ignore)
  }

  #client(b: Backend): Client {
    let client = this.#clients.get(b.id)
    if (client === undefined) {
      const o = this.#o
      const scheme = o.scheme ?? (b.url?.startsWith('https:') ? 'https' : 'http')
      const host = b.host.includes(':') ? `[${b.host}]` : b.host
      const { rejectUnauthorized, ca } = o.tls
      client = new Client(`${scheme}://${host}:${o.port ?? b.port}`, {
        pipelining: 1,
        headersTimeout: 0,
        bodyTimeout: 0,
        connect: {
          timeout: 0,
          ...(rejectUnauthorized === undefined ? {} : { rejectUnauthorized }),
          ...(ca === undefined ? {} : { ca: ca as string | Buffer | (string | Buffer)[] }),
        },
      })
      this.#clients.set(b.id, client)
    }
    return client
  }
}

/** Reads and drops the rest of a body (at most `limit` bytes, then the stream is destroyed). */
async function discard(body: Body, limit: number): Promise<void> {
  await body.dump({ limit }).catch(ignore)
}

/** The first `limit` bytes of `body` as UTF-8; the rest is not read. */
async function readText(body: Body, limit: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    chunks.push(chunk as Buffer)
    size += (chunk as Buffer).length
    if (size >= limit) break // destroys the stream: the connection goes too
  }
  return Buffer.concat(chunks, Math.min(size, limit)).toString('utf8')
}

function matches(matcher: BodyMatcher, text: string): boolean {
  if (typeof matcher === 'string') return text.includes(matcher)
  if (matcher instanceof RegExp) {
    matcher.lastIndex = 0 // a /g or /y regex keeps state between tests
    return matcher.test(text)
  }
  return Boolean(matcher(text))
}

/**
 * An active HTTP health check over undici: sends `method path` to each backend and passes when the
 * status is in `expectStatus` (2xx by default) and, with `body`, the first `maxBodyBytes` of the body
 * match. A status in `failStatus` marks the backend down at once, ignoring `fall`. By default every
 * check opens a fresh connection and closes it (`reuseConnection: false`, like Pingora), so a
 * backend whose accept queue or firewall is broken is caught too. Failure reasons: `'status 503'`,
 * `'body mismatch'`, `'connect ECONNREFUSED'`, `'timeout after 2000 ms'` …
 *
 * @param options see {@link HttpCheckOptions}; the source defaults to `'active:http'`
 * @example
 * ```ts
 * const lb = createBalancer()
 *   .backends(['http://10.0.0.1:8080', 'http://10.0.0.2:8080'])
 *   .health(httpCheck({ path: '/healthz', intervalMs: 5_000, timeoutMs: 1_000, rise: 2, fall: 3, failStatus: 503 }))
 *   .build()
 * ```
 */
export function httpCheck(options?: HttpCheckOptions): ActiveHealthCheck {
  const o = resolveHttpOptions(options)
  return new ActiveChecker(o.active, new HttpProbe(o))
}

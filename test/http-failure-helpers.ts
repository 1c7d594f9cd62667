/**
 * Helpers of the HTTP proxy failure, streaming and affinity tests: loopback node:http backends,
 * proxies that record what their `onLog` and `onError` hooks saw, undici / node:http / raw socket
 * clients, all tracked and torn down by `HttpHarness.closeAll()` (call it in `afterEach`). Before
 * tearing down, `closeAll()` checks that nothing leaked: once the clients are gone the proxy servers
 * hold no connection, no backend has a request in flight, and no error escaped to the process.
 */
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import { Readable } from 'node:stream'
import type { Balancer } from '@fulcrum/core'
import {
  createHttpProxy,
  type HttpProxy,
  type HttpProxyOptions,
  listen,
  ProxyError,
  type ProxyExchange,
} from '@fulcrum/http-proxy'
import { Agent, type Dispatcher, request } from 'undici'
import { Harness, HOST, inOrder, sleep, waitFor } from './tcp-proxy-helpers.js'

export { HOST, inOrder, sleep, waitFor }

// ---------------------------------------------------------------------------------------------
// Process guard
// ---------------------------------------------------------------------------------------------

/** Errors that escaped to the process (an unhandled 'error' event, a rejected promise nobody awaited). */
const escaped: unknown[] = []
let guardInstalled = false

/**
 * Records uncaught exceptions and unhandled rejections of this test file's process, so that
 * `closeAll()` fails the test that caused them explicitly instead of letting the run crash.
 */
export function installCrashGuard(): void {
  if (guardInstalled) return
  guardInstalled = true
  process.on('uncaughtException', (err) => escaped.push(err))
  process.on('unhandledRejection', (err) => escaped.push(err))
}

// ---------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------

/** A request a backend received, with its body when the default handler read it. */
export interface SeenRequest {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  body: Buffer | undefined
}

export type BackendHandler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  backend: TestBackend,
  seen: SeenRequest,
) => void

/** A loopback node:http backend. */
export interface TestBackend {
  readonly name: string
  readonly server: http.Server
  readonly port: number
  /** `http://127.0.0.1:port`, the URL to give the balancer (and the backend's default id). */
  readonly url: string
  /** Requests received since start. */
  hits: number
  readonly requests: SeenRequest[]
  /** Sockets accepted and not yet closed. */
  readonly sockets: Set<net.Socket>
  /** Stops listening and destroys every connection (the backend dies). */
  kill(): Promise<void>
}

/**
 * The default backend answer: reads the whole body, then 200 with `x-backend: <name>` and a JSON
 * body `{ backend, method, url, bytes }`.
 */
export const answerOk: BackendHandler = (req, res, backend, seen) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const body = Buffer.concat(chunks)
    seen.body = body
    const json = JSON.stringify({
      backend: backend.name,
      method: req.method,
      url: req.url,
      bytes: body.length,
    })
    res.writeHead(200, {
      'content-type': 'application/json',
      'x-backend': backend.name,
      'content-length': Buffer.byteLength(json),
    })
    res.end(json)
  })
}

/** A handler that answers `status` (with optional headers) after reading the body. */
export function answerStatus(status: number, headers: Record<string, string> = {}): BackendHandler {
  return (req, res, backend) => {
    req.resume()
    req.on('end', () => {
      const body = `${status} from ${backend.name}`
      res.writeHead(status, {
        ...headers,
        'x-backend': backend.name,
        'content-length': Buffer.byteLength(body),
      })
      res.end(body)
    })
  }
}

/** A handler that reads the whole request body and then destroys the connection without answering. */
export const readThenReset: BackendHandler = (req, _res, _backend, seen) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    seen.body = Buffer.concat(chunks)
    req.socket.destroy()
  })
}

/** A handler that never answers (and never reads the body). */
export const neverAnswer: BackendHandler = () => {}

// ---------------------------------------------------------------------------------------------
// Proxy log records
// ---------------------------------------------------------------------------------------------

/** A copy of what `onLog` saw (the exchange object may be reused, so its fields are copied). */
export interface LogEntry {
  readonly method: string | undefined
  readonly url: string | undefined
  readonly status: number
  readonly attempts: number
  readonly backendId: string | undefined
  readonly error:
    | {
        readonly isProxyError: boolean
        readonly code: string
        readonly status: number
        readonly phase: string
      }
    | undefined
}

function copyError(err: unknown): LogEntry['error'] {
  if (err === undefined || err === null) return undefined
  const e = err as { code?: unknown; status?: unknown; phase?: unknown }
  return {
    isProxyError: err instanceof ProxyError,
    code: String(e.code),
    status: Number(e.status),
    phase: String(e.phase),
  }
}

function logEntry(ctx: ProxyExchange): LogEntry {
  return {
    method: ctx.req.method,
    url: ctx.req.url,
    status: ctx.status,
    attempts: ctx.attempts,
    backendId: ctx.backend?.id,
    error: copyError(ctx.error),
  }
}

/** A proxy listening on loopback, with what its hooks saw. */
export interface TestProxy {
  readonly proxy: HttpProxy
  readonly server: http.Server
  readonly port: number
  /** `http://127.0.0.1:port` */
  readonly url: string
  /** One entry per `onLog` call. */
  readonly logs: LogEntry[]
  /** One entry per `onError` call. */
  readonly errors: NonNullable<LogEntry['error']>[]
  /** Closes the server (forcefully) and the upstream pools. */
  readonly close: () => Promise<void>
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1 over a socket
// ---------------------------------------------------------------------------------------------

/** What a raw client received. */
export interface RawResult {
  /** Every byte received. */
  readonly data: Buffer
  /** Status of the first response head, or 0 when none was received. */
  readonly status: number
  /** Headers of the first response head (lower-case names). */
  readonly headers: Record<string, string[]>
  /** The bytes after the first response head. */
  readonly body: Buffer
  /** True when the peer closed the connection within the time limit. */
  readonly closed: boolean
  /** The socket error, if any. */
  readonly error: string | undefined
}

/** Parses the status and headers of `data` (a response head followed by anything). */
export function parseHead(data: Buffer): { status: number; headers: Record<string, string[]>; body: Buffer } {
  const end = data.indexOf('\r\n\r\n')
  if (end < 0) return { status: 0, headers: {}, body: Buffer.alloc(0) }
  const lines = data.subarray(0, end).toString('latin1').split('\r\n')
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0)
  const headers: Record<string, string[]> = {}
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':')
    if (i <= 0) continue
    const name = line.slice(0, i).trim().toLowerCase()
    ;(headers[name] ??= []).push(line.slice(i + 1).trim())
  }
  return { status, headers, body: data.subarray(end + 4) }
}

/**
 * Decodes a chunked body (RFC 9112 §7.1). `complete` is true only when the last chunk (`0`) and the
 * end of the trailer section were received; a truncated or malformed stream gives `complete: false`.
 */
export function decodeChunked(body: Buffer): { data: Buffer; complete: boolean } {
  const parts: Buffer[] = []
  let pos = 0
  for (let guard = 0; guard < 1_000_000; guard++) {
    const lineEnd = body.indexOf('\r\n', pos)
    if (lineEnd < 0) break
    const size = Number.parseInt(body.subarray(pos, lineEnd).toString('latin1').split(';')[0]!.trim(), 16)
    if (!Number.isFinite(size) || size < 0) break
    if (size === 0) {
      // Trailer section: zero or more field lines, then an empty line.
      let p = lineEnd + 2
      for (let t = 0; t < 1_000; t++) {
        const e = body.indexOf('\r\n', p)
        if (e < 0) return { data: Buffer.concat(parts), complete: false }
        if (e === p) return { data: Buffer.concat(parts), complete: true }
        p = e + 2
      }
      break
    }
    const start = lineEnd + 2
    if (body.length < start + size + 2) {
      parts.push(body.subarray(start, Math.min(body.length, start + size)))
      break
    }
    parts.push(body.subarray(start, start + size))
    pos = start + size + 2
  }
  return { data: Buffer.concat(parts), complete: false }
}

// ---------------------------------------------------------------------------------------------
// Big transfers
// ---------------------------------------------------------------------------------------------

/** A reusable 256 KiB chunk of generated (non-zero, patterned) bytes. */
export const CHUNK = Buffer.alloc(256 * 1024, 'fulcrum-0123456789abcdef')

/**
 * Writes `total` bytes of {@link CHUNK} to `out`, waiting for 'drain' whenever `write()` says so.
 * The 'drain' listener is added synchronously after `write()`: a write that completes at once emits
 * 'drain' from the next tick, before any awaited continuation would run.
 */
export async function writeGenerated(
  out: http.ServerResponse,
  total: number,
  onWritten?: (written: number) => void,
): Promise<void> {
  let written = 0
  while (written < total && !out.destroyed) {
    const n = Math.min(CHUNK.length, total - written)
    const ok = out.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))
    written += n
    onWritten?.(written)
    if (!ok && !out.destroyed) await drained(out)
  }
}

/** Resolves on the stream's next 'drain' or 'close', whichever comes first; removes both listeners. */
function drained(out: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      out.off('drain', done)
      out.off('close', done)
      resolve()
    }
    out.on('drain', done)
    out.on('close', done)
  })
}

/** A readable stream of `total` generated bytes; `onRead(sent)` sees the running count. */
export function generatedBody(total: number, onRead: (sent: number) => void): Readable {
  let sent = 0
  return new Readable({
    highWaterMark: CHUNK.length,
    read() {
      if (sent >= total) {
        this.push(null)
        return
      }
      const n = Math.min(CHUNK.length, total - sent)
      sent += n
      onRead(sent)
      this.push(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))
    },
  })
}

/** Samples this process's RSS every `intervalMs` (and whenever `sample()` is called). */
export function rssSampler(intervalMs = 20): { sample(): void; stop(): { baseline: number; peak: number } } {
  const baseline = process.memoryUsage().rss
  let peak = baseline
  const sample = (): void => {
    const rss = process.memoryUsage().rss
    if (rss > peak) peak = rss
  }
  const timer = setInterval(sample, intervalMs)
  return {
    sample,
    stop() {
      clearInterval(timer)
      sample()
      return { baseline, peak }
    },
  }
}

export const MiB = 1024 * 1024

/**
 * Size of the big streaming transfers: `FULCRUM_BIG_BYTES` (bytes, or with a `k`/`m`/`g` suffix in
 * binary units: `256m`, `1g`); by default 1 GiB, or 256 MiB when `CI` is set (a shared 2-core runner
 * moves 1 GiB through three parties in one process in 10–20 s).
 */
export function bigBytes(): number {
  const raw = process.env.FULCRUM_BIG_BYTES?.trim().toLowerCase()
  if (raw === undefined || raw === '') return process.env.CI ? 256 * MiB : 1024 * MiB
  const m = /^(\d+)([kmg]?)i?b?$/.exec(raw)
  if (m === null) throw new Error(`FULCRUM_BIG_BYTES: cannot parse ${JSON.stringify(raw)}`)
  const unit = { '': 1, k: 1024, m: MiB, g: 1024 * MiB }[m[2] as '' | 'k' | 'm' | 'g']
  return Number(m[1]) * unit
}

// ---------------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------------

/** Tracks everything a test opens, and checks for leaks before closing it. */
export class HttpHarness {
  readonly tcp = new Harness()
  readonly #backends: TestBackend[] = []
  readonly #proxies: TestProxy[] = []
  readonly #balancers = new Set<Balancer<never>>()
  readonly #agents: Dispatcher[] = []
  readonly #httpAgents: http.Agent[] = []
  readonly #sockets = new Set<net.Socket>()
  readonly #closers: (() => Promise<void>)[] = []

  constructor() {
    installCrashGuard()
  }

  /** A loopback node:http backend; `handler` defaults to {@link answerOk}. */
  async backend(name: string, handler: BackendHandler = answerOk): Promise<TestBackend> {
    const sockets = new Set<net.Socket>()
    const server = http.createServer({ keepAliveTimeout: 5_000 })
    const b: TestBackend = {
      name,
      server,
      port: 0,
      url: '',
      hits: 0,
      requests: [],
      sockets,
      kill: async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        for (const s of sockets) s.destroy()
        await closed
      },
    }
    server.on('connection', (socket) => {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => sockets.delete(socket))
    })
    server.on('clientError', (_err, socket) => socket.destroy())
    server.on('request', (req, res) => {
      b.hits++
      const seen: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: undefined,
      }
      b.requests.push(seen)
      req.on('error', () => {})
      res.on('error', () => {})
      handler(req, res, b, seen)
    })
    server.listen(0, HOST)
    await once(server, 'listening')
    const port = (server.address() as AddressInfo).port
    Object.assign(b, { port, url: `http://${HOST}:${port}` })
    this.#backends.push(b)
    return b
  }

  /** `count` default backends named `b0`, `b1`, … */
  async backends(count: number, handler: BackendHandler = answerOk): Promise<TestBackend[]> {
    const list: TestBackend[] = []
    for (let i = 0; i < count; i++) list.push(await this.backend(`b${i}`, handler))
    return list
  }

  /** An `http://` URL whose port refuses connections. */
  async refusedUrl(): Promise<string> {
    return `http://${HOST}:${await this.tcp.closedPort()}`
  }

  /** An `http://` URL whose connects never complete (a full backlog). */
  async hangingUrl(): Promise<string> {
    return `http://${HOST}:${await this.tcp.hangingPort()}`
  }

  /** A raw TCP backend (for malformed answers); its sockets are destroyed by `closeAll()`. */
  async rawBackend(
    onConnection: (socket: net.Socket) => void,
  ): Promise<{ url: string; accepted: () => number }> {
    const s = await this.tcp.server(onConnection)
    return { url: `http://${HOST}:${s.port}`, accepted: () => s.accepted }
  }

  /** Tracks a balancer so that `closeAll()` checks its backends have nothing in flight. */
  track<B extends Balancer<never>>(lb: B): B {
    this.#balancers.add(lb)
    return lb
  }

  /**
   * A proxy made by `createHttpProxy(lb, options)`, served by a node:http server on loopback
   * (`proxy.attach(server)` too). Its `onLog` and `onError` calls are recorded (and forwarded to
   * the hooks given in `options`).
   */
  async proxy<Ctx>(lb: Balancer<Ctx>, options: HttpProxyOptions<Ctx> = {}): Promise<TestProxy> {
    const { logs, errors, hooked } = this.#recording(lb, options)
    const proxy = createHttpProxy(lb, hooked)
    const server = http.createServer(proxy)
    proxy.attach(server)
    server.listen(0, HOST)
    await once(server, 'listening')
    const port = (server.address() as AddressInfo).port
    const close = async (): Promise<void> => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await proxy.close()
    }
    const p: TestProxy = { proxy, server, port, url: `http://${HOST}:${port}`, logs, errors, close }
    this.#proxies.push(p)
    return p
  }

  /** Like {@link HttpHarness.proxy}, with the standalone `listen(lb, { port: 0, host, ...options })`. */
  async listen<Ctx>(lb: Balancer<Ctx>, options: HttpProxyOptions<Ctx> = {}): Promise<TestProxy> {
    const { logs, errors, hooked } = this.#recording(lb, options)
    const ps = await listen(lb, { ...hooked, port: 0, host: HOST })
    const close = async (): Promise<void> => {
      ps.server.closeAllConnections()
      await ps.close()
    }
    const p: TestProxy = {
      proxy: ps.proxy,
      server: ps.server,
      port: ps.port,
      url: ps.url,
      logs,
      errors,
      close,
    }
    this.#proxies.push(p)
    return p
  }

  #recording<Ctx>(lb: Balancer<Ctx>, options: HttpProxyOptions<Ctx>) {
    this.track(lb as unknown as Balancer<never>)
    const logs: LogEntry[] = []
    const errors: NonNullable<LogEntry['error']>[] = []
    const hooked: HttpProxyOptions<Ctx> = {
      ...options,
      onLog: (ctx) => {
        logs.push(logEntry(ctx))
        options.onLog?.(ctx)
      },
      onError: (ctx, err) => {
        errors.push(copyError(err)!)
        return options.onError?.(ctx, err)
      },
    }
    return { logs, errors, hooked }
  }

  /** Registers a cleanup run by `closeAll()` (e.g. closing a server made by `listen()`). */
  onClose(fn: () => Promise<void>): void {
    this.#closers.push(fn)
  }

  /** A keep-alive undici Agent, destroyed by `closeAll()`. */
  agent(options: Agent.Options = {}): Agent {
    const agent = new Agent({ keepAliveTimeout: 10_000, ...options })
    this.#agents.push(agent)
    return agent
  }

  /** A keep-alive node:http Agent, destroyed by `closeAll()`. */
  httpAgent(): http.Agent {
    const agent = new http.Agent({ keepAlive: true })
    this.#httpAgents.push(agent)
    return agent
  }

  /** A raw TCP connection to `port`, destroyed by `closeAll()`. */
  socket(port: number): net.Socket {
    const socket = net.connect({ port, host: HOST })
    socket.on('error', () => {})
    this.#sockets.add(socket)
    socket.on('close', () => this.#sockets.delete(socket))
    return socket
  }

  /** An undici request on a tracked agent (one shared agent unless `dispatcher` is given). */
  request(
    url: string,
    options: NonNullable<Parameters<typeof request>[1]> = {},
  ): Promise<Dispatcher.ResponseData<unknown>> {
    const dispatcher = options.dispatcher ?? this.#sharedAgent()
    return request(url, { ...options, dispatcher })
  }

  #shared: Agent | undefined
  #sharedAgent(): Agent {
    this.#shared ??= this.agent()
    return this.#shared
  }

  /** GET `url` and read the body as text. */
  async get(url: string, headers: Record<string, string> = {}): Promise<Fetched> {
    const res = await this.request(url, { method: 'GET', headers })
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
  }

  /**
   * Sends `head` (and anything else written later) on a raw socket to `port`, and collects what
   * comes back until the peer closes or `timeoutMs` passes.
   */
  raw(
    port: number,
    head: string | Buffer,
    timeoutMs = 3_000,
  ): { socket: net.Socket; result: Promise<RawResult> } {
    const socket = this.socket(port)
    const chunks: Buffer[] = []
    let error: string | undefined
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message
    })
    socket.write(head)
    const result = new Promise<RawResult>((resolve) => {
      let done = false
      const finish = (closed: boolean): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        const data = Buffer.concat(chunks)
        resolve({ data, ...parseHead(data), closed, error })
      }
      const timer = setTimeout(() => finish(false), timeoutMs)
      socket.once('close', () => finish(true))
    })
    return { socket, result }
  }

  /** Destroys every client (undici and node:http agents, raw sockets). */
  async closeClients(): Promise<void> {
    for (const s of this.#sockets) s.destroy()
    for (const a of this.#httpAgents.splice(0)) a.destroy()
    await Promise.all(this.#agents.splice(0).map((a) => a.destroy().catch(() => {})))
    this.#shared = undefined
  }

  /**
   * Checks for leaks (after destroying the clients), then closes everything; throws the first leak
   * found, after the cleanup:
   * - each proxy server's open connection count (`getConnections`) is back to 0;
   * - every tracked balancer's backends have nothing in flight;
   * - no error escaped to the process.
   */
  async closeAll(): Promise<void> {
    let leak: Error | undefined
    try {
      await this.closeClients()
      for (const p of this.#proxies) await waitForNoConnections(p.server, 2_000)
      for (const lb of this.#balancers)
        await waitFor(
          () => lb.backends().every((b) => b.inflight === 0),
          2_000,
          `no request in flight (${lb
            .backends()
            .map((b) => `${b.id}: ${b.inflight}`)
            .join(', ')})`,
        )
      if (escaped.length > 0) {
        const errs = escaped.splice(0)
        leak = new Error(
          `errors escaped to the process: ${errs.map((e) => (e instanceof Error ? (e.stack ?? e.message) : String(e))).join('\n')}`,
        )
      }
    } catch (err) {
      leak = err as Error
    }
    for (const p of this.#proxies.splice(0)) await p.close()
    for (const fn of this.#closers.splice(0)) await fn()
    for (const b of this.#backends.splice(0)) {
      if (b.server.listening) await b.kill()
      else for (const s of b.sockets) s.destroy()
    }
    await this.tcp.closeAll()
    this.#balancers.clear()
    if (leak !== undefined) throw leak
  }
}

/** A response read in full. */
export interface Fetched {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly text: string
}

/** The open connection count of a server. */
export function connections(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))))
}

/** Resolves when the server's open connection count is 0; throws after `timeoutMs`. */
export async function waitForNoConnections(server: net.Server, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let n = await connections(server)
  while (n > 0) {
    if (Date.now() > deadline) throw new Error(`proxy server still has ${n} open connection(s)`)
    await sleep(5)
    n = await connections(server)
  }
}

/** Waits for `n` log entries, then a little longer to catch a duplicate call; returns the entries. */
export async function settledLogs(p: TestProxy, n: number, settleMs = 100): Promise<LogEntry[]> {
  await waitFor(() => p.logs.length >= n, 5_000, `${n} onLog call(s), got ${p.logs.length}`)
  await sleep(settleMs)
  return p.logs
}

/** The backend named in a response's `x-backend` header. */
export function servedBy(res: {
  headers: Record<string, string | string[] | undefined>
}): string | undefined {
  const v = res.headers['x-backend']
  return Array.isArray(v) ? v[0] : v
}

/** The `Set-Cookie` values of a response. */
export function setCookies(res: { headers: Record<string, string | string[] | undefined> }): string[] {
  const v = res.headers['set-cookie']
  return v === undefined ? [] : Array.isArray(v) ? v : [v]
}

/** The value of cookie `name` in a response's `Set-Cookie` headers, with its attributes. */
export function cookieOf(
  res: { headers: Record<string, string | string[] | undefined> },
  name: string,
): { value: string; attributes: string[] } | undefined {
  for (const line of setCookies(res)) {
    const [pair, ...attributes] = line.split(';').map((s) => s.trim())
    const eq = pair!.indexOf('=')
    if (eq > 0 && pair!.slice(0, eq) === name) return { value: pair!.slice(eq + 1), attributes }
  }
  return undefined
}

/** Reads an undici body until it ends or fails; tells which, and how many bytes came. */
export async function drain(
  body: AsyncIterable<Buffer>,
  onChunk?: (received: number) => void | Promise<void>,
): Promise<{ bytes: number; error: unknown }> {
  let bytes = 0
  try {
    for await (const chunk of body) {
      bytes += chunk.length
      await onChunk?.(bytes)
    }
    return { bytes, error: undefined }
  } catch (error) {
    return { bytes, error }
  }
}

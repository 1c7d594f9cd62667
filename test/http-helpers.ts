/**
 * Helpers of the http-proxy integration tests: loopback echo backends that record exactly what they
 * received, gateways (`createHttpProxy` on a node:http server, or the standalone `listen()`), clients
 * (node:http, undici, raw sockets with a small strict HTTP/1.1 response parser), all tracked and
 * closed by `closeAll()` (call it in `afterEach`).
 */
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { createBalancer } from '@fulcrum/core'
import { createHttpProxy, listen } from '@fulcrum/http-proxy'
import { Agent, type Dispatcher, request as undiciRequest } from 'undici'
import { sleep, waitFor } from './wait.js'

export const HOST = '127.0.0.1'

export type ProxyOptions = NonNullable<Parameters<typeof createHttpProxy>[1]>
export type HttpProxy = ReturnType<typeof createHttpProxy>
export type TrustProxyOption = NonNullable<ProxyOptions['trustProxy']>
type Standalone = Awaited<ReturnType<typeof listen>>

export { sleep, waitFor }

/** Rejects after `ms` with a message naming `what`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

// ---------------------------------------------------------------------------------------------------
// Header helpers (raw header arrays are `[name, value, name, value, …]` as node:http gives them)

/** The values of every field line called `name` (case-insensitive), in order. */
export function values(rawHeaders: readonly string[], name: string): string[] {
  const out: string[] = []
  const lower = name.toLowerCase()
  for (let i = 0; i + 1 < rawHeaders.length; i += 2)
    if (rawHeaders[i]!.toLowerCase() === lower) out.push(rawHeaders[i + 1]!)
  return out
}

/** The field's members: every line's value split on commas outside quoted strings, trimmed, in order. */
export function members(rawHeaders: readonly string[], name: string): string[] {
  return values(rawHeaders, name).flatMap(splitList)
}

/** The combined field value (`a, b`) or undefined when the field is absent. */
export function combined(rawHeaders: readonly string[], name: string): string | undefined {
  const v = values(rawHeaders, name)
  return v.length === 0 ? undefined : v.join(', ')
}

/** Lower-cased names of the field lines, in order. */
export function names(rawHeaders: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) out.push(rawHeaders[i]!.toLowerCase())
  return out
}

/** Splits a comma-separated list (RFC 9110 §5.6.1), keeping commas inside quoted strings. */
export function splitList(value: string): string[] {
  const out: string[] = []
  let current = ''
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!
    if (quoted) {
      current += c
      if (c === '\\' && i + 1 < value.length) current += value[++i]
      else if (c === '"') quoted = false
    } else if (c === '"') {
      quoted = true
      current += c
    } else if (c === ',') {
      out.push(current.trim())
      current = ''
    } else current += c
  }
  out.push(current.trim())
  return out.filter((m) => m !== '')
}

const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * Parses a `Forwarded` field value strictly by RFC 7239 §4: `forwarded-element *( "," … )`, each
 * element `pair *( ";" pair )`, `pair = token "=" value`, `value = token / quoted-string`. Throws on
 * anything else (e.g. an unquoted `[::1]` or `host:port`). Parameter names are lower-cased.
 */
export function parseForwarded(value: string): Record<string, string>[] {
  const elements: Record<string, string>[] = []
  let i = 0
  const fail = (why: string): never => {
    throw new Error(`invalid Forwarded ${JSON.stringify(value)} at ${i}: ${why}`)
  }
  const ows = () => {
    while (value[i] === ' ' || value[i] === '\t') i++
  }
  const token = (): string => {
    const start = i
    while (i < value.length && TCHAR.test(value[i]!)) i++
    if (i === start) fail('expected a token')
    return value.slice(start, i)
  }
  for (;;) {
    ows()
    const element: Record<string, string> = {}
    for (;;) {
      const name = token().toLowerCase()
      if (value[i] !== '=') fail('expected "="')
      i++
      let v: string
      if (value[i] === '"') {
        i++
        v = ''
        while (value[i] !== '"') {
          if (i >= value.length) fail('unterminated quoted-string')
          if (value[i] === '\\') i++
          v += value[i++]
        }
        i++
      } else v = token()
      if (name in element) fail(`parameter ${name} twice in one element`)
      element[name] = v
      if (value[i] !== ';') break
      i++
    }
    elements.push(element)
    ows()
    if (i >= value.length) return elements
    if (value[i] !== ',') fail('expected "," or end')
    i++
  }
}

// ---------------------------------------------------------------------------------------------------
// Backends

/** What a backend received for one request. */
export interface Seen {
  readonly method: string
  /** The raw request target as it came on the wire. */
  readonly url: string
  readonly httpVersion: string
  readonly rawHeaders: string[]
  body: Buffer
  rawTrailers: string[]
  /** The request's body ended normally (not aborted). */
  complete: boolean
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => void

export interface TestBackend {
  readonly server: http.Server
  readonly port: number
  readonly url: string
  /** Every request whose head arrived, in order. */
  readonly requests: Seen[]
  /** Requests whose body arrived completely. */
  readonly completed: () => Seen[]
  /** TCP connections accepted. */
  connections: number
}

/** Answers 200 with a JSON echo of what arrived: method, url, httpVersion, rawHeaders, body. */
export const echo: Handler = (_req, res, seen) => {
  const body = JSON.stringify({
    method: seen.method,
    url: seen.url,
    httpVersion: seen.httpVersion,
    rawHeaders: seen.rawHeaders,
    body: seen.body.toString('latin1'),
  })
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

/** A tcp server that records its connections and never answers (a decoy: must never be reached). */
export interface Decoy {
  readonly server: net.Server
  readonly port: number
  connections: number
  readonly data: Buffer[]
}

// ---------------------------------------------------------------------------------------------------
// Raw sockets and a strict response parser

/** A request head from its lines (request line first), CRLF-terminated, then `body`. */
export function wire(lines: readonly string[], body = ''): string {
  return `${lines.join('\r\n')}\r\n\r\n${body}`
}

export interface RawResponse {
  readonly version: string
  readonly status: number
  readonly reason: string
  readonly rawHeaders: string[]
  readonly body: Buffer
  readonly rawTrailers: string[]
  /** The body was chunked on the wire. */
  readonly chunked: boolean
  /** Every byte of this response as received. */
  readonly raw: Buffer
}

type Parsed =
  | { readonly kind: 'complete'; readonly response: RawResponse; readonly consumed: number }
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string }

function readLine(buf: Buffer, from: number): { line: string; next: number } | undefined | 'bad' {
  const lf = buf.indexOf(0x0a, from)
  if (lf === -1) return undefined
  if (lf === from || buf[lf - 1] !== 0x0d) return 'bad'
  return { line: buf.toString('latin1', from, lf - 1), next: lf + 1 }
}

function parseFields(buf: Buffer, from: number): { fields: string[]; next: number } | undefined | string {
  const fields: string[] = []
  let at = from
  for (;;) {
    const l = readLine(buf, at)
    if (l === undefined) return undefined
    if (l === 'bad') return 'field line not ended by CRLF'
    at = l.next
    if (l.line === '') return { fields, next: at }
    const colon = l.line.indexOf(':')
    if (colon <= 0) return `bad field line ${JSON.stringify(l.line)}`
    const name = l.line.slice(0, colon)
    if (!TCHAR.test(name)) return `bad field name ${JSON.stringify(name)}`
    fields.push(name, l.line.slice(colon + 1).trim())
  }
}

/**
 * Parses one HTTP/1.x response at the start of `buf` (RFC 9112 §4, §6.3): a response to HEAD, a 1xx,
 * 204 or 304 has no content; otherwise chunked, Content-Length or close-delimited (`ended`).
 */
export function parseResponse(buf: Buffer, method: string, ended: boolean): Parsed {
  const status = readLine(buf, 0)
  if (status === undefined) return ended ? invalid('connection closed before a status line') : incomplete
  if (status === 'bad')
    return invalid(`status line not ended by CRLF: ${JSON.stringify(buf.toString('latin1', 0, 80))}`)
  const m = /^(HTTP\/1\.[01]) ([1-9]\d\d) (.*)$/.exec(status.line)
  if (m === null) return invalid(`bad status line ${JSON.stringify(status.line)}`)
  const head = parseFields(buf, status.next)
  if (head === undefined) return ended ? invalid('connection closed inside the header section') : incomplete
  if (typeof head === 'string') return invalid(head)
  const code = Number(m[2])
  const done = (body: Buffer, end: number, rawTrailers: string[] = [], chunked = false): Parsed => ({
    kind: 'complete',
    consumed: end,
    response: {
      version: m[1]!,
      status: code,
      reason: m[3]!,
      rawHeaders: head.fields,
      body,
      rawTrailers,
      chunked,
      raw: buf.subarray(0, end),
    },
  })
  if (method === 'HEAD' || code < 200 || code === 204 || code === 304) return done(Buffer.alloc(0), head.next)
  // a 2xx to CONNECT starts a tunnel (RFC 9110 §9.3.6): no content
  if (method === 'CONNECT' && code < 300) return done(Buffer.alloc(0), head.next)
  const te = members(head.fields, 'transfer-encoding').map((s) => s.toLowerCase())
  if (te.length > 0) {
    if (te[te.length - 1] !== 'chunked') return invalid(`response Transfer-Encoding ${te.join(', ')}`)
    const chunks: Buffer[] = []
    let at = head.next
    for (;;) {
      const size = readLine(buf, at)
      if (size === undefined) return ended ? invalid('connection closed inside chunked content') : incomplete
      if (size === 'bad') return invalid('chunk size line not ended by CRLF')
      const sm = /^([0-9a-fA-F]+)(?:[ \t]*;.*)?$/.exec(size.line)
      if (sm === null) return invalid(`bad chunk size line ${JSON.stringify(size.line)}`)
      const n = Number.parseInt(sm[1]!, 16)
      at = size.next
      if (n === 0) {
        const trailers = parseFields(buf, at)
        if (trailers === undefined) return ended ? invalid('connection closed inside trailers') : incomplete
        if (typeof trailers === 'string') return invalid(trailers)
        return done(Buffer.concat(chunks), trailers.next, trailers.fields, true)
      }
      if (buf.length < at + n + 2) return ended ? invalid('connection closed inside a chunk') : incomplete
      if (buf[at + n] !== 0x0d || buf[at + n + 1] !== 0x0a) return invalid('chunk data not followed by CRLF')
      chunks.push(buf.subarray(at, at + n))
      at += n + 2
    }
  }
  const cl = values(head.fields, 'content-length')
  if (cl.length > 0) {
    if (new Set(cl).size !== 1 || !/^\d+$/.test(cl[0]!)) return invalid(`bad Content-Length ${cl.join(', ')}`)
    const n = Number(cl[0])
    if (buf.length < head.next + n)
      return ended ? invalid('connection closed inside the content') : incomplete
    return done(buf.subarray(head.next, head.next + n), head.next + n)
  }
  return ended ? done(buf.subarray(head.next), buf.length) : incomplete
}

const incomplete: Parsed = { kind: 'incomplete' }
const invalid = (reason: string): Parsed => ({ kind: 'invalid', reason })

/** A raw client socket that reads responses one at a time with {@link parseResponse}. */
export class RawClient {
  readonly socket: net.Socket
  #buf: Buffer = Buffer.alloc(0)
  #ended = false
  #closed = false
  #error: string | undefined
  #wake: (() => void) | undefined

  constructor(port: number, host: string) {
    this.socket = net.connect({ port, host, allowHalfOpen: true })
    this.socket.on('data', (c: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, c])
      this.#notify()
    })
    this.socket.on('end', () => {
      this.#ended = true
      this.#notify()
    })
    this.socket.on('error', (e: NodeJS.ErrnoException) => {
      this.#error = e.code ?? e.message
      this.#ended = true
      this.#notify()
    })
    this.socket.on('close', () => {
      this.#closed = true
      this.#ended = true
      this.#notify()
    })
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  #next(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined
        resolve(false)
      }, timeoutMs)
      this.#wake = () => {
        clearTimeout(timer)
        resolve(true)
      }
    })
  }

  async connected(): Promise<void> {
    if (this.socket.readyState !== 'open') await within(once(this.socket, 'connect'), 5_000, 'connect')
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
  }

  /** Bytes received and not yet consumed by a read. */
  get buffered(): Buffer {
    return this.#buf
  }

  get ended(): boolean {
    return this.#ended
  }

  get error(): string | undefined {
    return this.#error
  }

  /** Reads the next response (a 1xx counts as one). Throws on a parse error, close or timeout. */
  async read(method = 'GET', timeoutMs = 5_000): Promise<RawResponse> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const p = parseResponse(this.#buf, method, this.#ended)
      if (p.kind === 'complete') {
        this.#buf = this.#buf.subarray(p.consumed)
        return p.response
      }
      if (p.kind === 'invalid')
        throw new Error(
          `unparseable response (${p.reason}); got ${JSON.stringify(this.#buf.toString('latin1'))}`,
        )
      const left = deadline - Date.now()
      if (left <= 0)
        throw new Error(`timed out reading a response; got ${JSON.stringify(this.#buf.toString('latin1'))}`)
      await this.#next(left)
    }
  }

  /** Reads responses until a final (non-1xx) one; returns it with the 1xx seen before it. */
  async readFinal(
    method = 'GET',
    timeoutMs = 5_000,
  ): Promise<RawResponse & { informational: RawResponse[] }> {
    const informational: RawResponse[] = []
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const r = await this.read(method, Math.max(1, deadline - Date.now()))
      if (r.status >= 200 || r.status === 101) return Object.assign(r, { informational })
      informational.push(r)
    }
  }

  /** Resolves true when the peer has closed (FIN or reset) within `timeoutMs`. */
  async waitEnded(timeoutMs = 3_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    while (!this.#ended) {
      const left = deadline - Date.now()
      if (left <= 0) return false
      await this.#next(left)
    }
    return true
  }

  /** Waits up to `ms` and returns whatever arrived. */
  async drain(ms: number): Promise<Buffer> {
    const deadline = Date.now() + ms
    while (!this.#ended && Date.now() < deadline) await this.#next(Math.max(1, deadline - Date.now()))
    return this.#buf
  }

  destroy(): void {
    if (!this.#closed) this.socket.destroy()
  }
}

// ---------------------------------------------------------------------------------------------------
// node:http client

export interface NodeResponse {
  readonly status: number
  readonly httpVersion: string
  readonly rawHeaders: string[]
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
  readonly rawTrailers: string[]
  readonly trailers: NodeJS.Dict<string>
  /** 1xx responses seen through the 'information' event, in order. */
  readonly informational: { statusCode: number; rawHeaders: string[]; headers: http.IncomingHttpHeaders }[]
  /** The 'continue' event fired. */
  readonly continued: boolean
}

export interface NodeRequestOptions {
  readonly method?: string
  readonly path?: string
  /** Headers as a flat `[name, value, …]` array, sent in this order (duplicates allowed). */
  readonly headers?: string[]
  /** Sent after `continue` when an `Expect: 100-continue` header is given, else at once; chunks are written one by one. */
  readonly body?: string | Buffer | readonly (string | Buffer)[]
  readonly host?: string
  readonly timeoutMs?: number
}

// ---------------------------------------------------------------------------------------------------
// The harness

export interface Gateway {
  readonly proxy: HttpProxy
  readonly server: http.Server
  readonly port: number
  readonly host: string
  readonly url: string
}

/** Tracks everything a test opens. */
export class HttpHarness {
  readonly #servers: { server: net.Server; sockets: Set<net.Socket> }[] = []
  readonly #proxies: HttpProxy[] = []
  readonly #standalones: { s: Standalone; sockets: Set<net.Socket> }[] = []
  readonly #raw = new Set<RawClient>()
  #undici: Agent | undefined
  #nodeAgent: http.Agent | undefined

  #track(server: net.Server): Set<net.Socket> {
    const sockets = new Set<net.Socket>()
    server.on('connection', (socket: net.Socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    })
    this.#servers.push({ server, sockets })
    return sockets
  }

  /** A node:http backend on 127.0.0.1 that records every request, then runs `handler` (default {@link echo}) once the body has arrived. */
  async backend(handler: Handler = echo, options: http.ServerOptions = {}): Promise<TestBackend> {
    const requests: Seen[] = []
    const server = http.createServer(options)
    const b: TestBackend = {
      server,
      port: 0,
      url: '',
      requests,
      completed: () => requests.filter((s) => s.complete),
      connections: 0,
    }
    server.on('connection', (socket: net.Socket) => {
      b.connections++
      socket.on('error', () => {})
    })
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const seen: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        httpVersion: req.httpVersion,
        rawHeaders: [...req.rawHeaders],
        body: Buffer.alloc(0),
        rawTrailers: [],
        complete: false,
      }
      requests.push(seen)
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('error', () => {})
      req.on('end', () => {
        seen.body = Buffer.concat(chunks)
        seen.rawTrailers = [...req.rawTrailers]
        seen.complete = true
        handler(req, res, seen)
      })
    })
    this.#track(server)
    server.listen(0, HOST)
    await once(server, 'listening')
    const port = (server.address() as AddressInfo).port
    Object.assign(b, { port, url: `http://${HOST}:${port}` })
    return b
  }

  /** A plain TCP listener outside every pool; a test asserts it is never reached. */
  async decoy(): Promise<Decoy> {
    const server = net.createServer()
    const d: Decoy = { server, port: 0, connections: 0, data: [] }
    server.on('connection', (socket: net.Socket) => {
      d.connections++
      socket.on('error', () => {})
      socket.on('data', (c: Buffer) => d.data.push(c))
    })
    this.#track(server)
    server.listen(0, HOST)
    await once(server, 'listening')
    Object.assign(d, { port: (server.address() as AddressInfo).port })
    return d
  }

  /** A balancer over the backends' URLs with retries. */
  balancer(backends: readonly { readonly url: string }[]) {
    return createBalancer()
      .backends(backends.map((b) => b.url))
      .retry({ retries: 2 })
      .build()
  }

  /** `createHttpProxy` on a node:http server with `attach()`, listening on `host` (default 127.0.0.1). */
  async gateway(
    backends: readonly { readonly url: string }[],
    options?: ProxyOptions,
    host: string = HOST,
  ): Promise<Gateway> {
    const proxy = createHttpProxy(this.balancer(backends), options)
    this.#proxies.push(proxy)
    const server = http.createServer(proxy)
    proxy.attach(server)
    this.#track(server)
    server.listen(0, host)
    await once(server, 'listening')
    const port = (server.address() as AddressInfo).port
    const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
    return { proxy, server, port, host, url: `http://${authority}` }
  }

  /** The standalone strict server of `listen()`, on 127.0.0.1. */
  async standalone(
    backends: readonly { readonly url: string }[],
    options: ProxyOptions = {},
  ): Promise<{ port: number; url: string; server: http.Server }> {
    const s = await listen(this.balancer(backends), { port: 0, host: HOST, ...options })
    const sockets = new Set<net.Socket>()
    s.server.on('connection', (socket: net.Socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    })
    this.#standalones.push({ s, sockets })
    return s as { port: number; url: string; server: http.Server }
  }

  /** A raw client socket to `port`, connected. */
  async raw(port: number, host: string = HOST): Promise<RawClient> {
    const c = new RawClient(port, host)
    this.#raw.add(c)
    await c.connected()
    return c
  }

  /** Sends `data` on a new raw socket and reads one final response (`method` tells how to frame it). */
  async rawOnce(
    port: number,
    data: string | Buffer,
    method = 'GET',
  ): Promise<{ response: RawResponse & { informational: RawResponse[] }; client: RawClient }> {
    const client = await this.raw(port)
    client.write(data)
    return { response: await client.readFinal(method), client }
  }

  /** The harness's undici agent (closed by `closeAll()`). */
  get undici(): Dispatcher {
    this.#undici ??= new Agent({ keepAliveTimeout: 1_000, headersTimeout: 8_000, bodyTimeout: 8_000 })
    return this.#undici
  }

  /** An undici `request` through the harness's agent, body read to the end. */
  async fetchText(
    url: string,
    options: {
      readonly method?: Dispatcher.HttpMethod
      readonly headers?: Record<string, string | string[]>
      readonly body?: string | Buffer
    } = {},
  ): Promise<{
    status: number
    headers: Record<string, string | string[] | undefined>
    text: string
    trailers: Record<string, unknown>
  }> {
    const res = await undiciRequest(url, {
      dispatcher: this.undici,
      method: options.method ?? 'GET',
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.body === undefined ? {} : { body: options.body }),
    })
    const text = await res.body.text()
    return {
      status: res.statusCode,
      headers: res.headers as Record<string, string | string[] | undefined>,
      text,
      trailers: res.trailers as Record<string, unknown>,
    }
  }

  /** A node:http request with ordered raw headers; collects 1xx, body and trailers. */
  nodeRequest(port: number, options: NodeRequestOptions = {}): Promise<NodeResponse> {
    this.#nodeAgent ??= new http.Agent({ keepAlive: true, maxSockets: 16 })
    const agent = this.#nodeAgent
    const host = options.host ?? HOST
    const given = options.headers ?? []
    // node:http sends no Host of its own when the headers are an array
    const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
    const headers = values(given, 'host').length > 0 ? given : ['Host', authority, ...given]
    const expectsContinue = values(headers, 'expect').some((v) => v.toLowerCase() === '100-continue')
    const body = options.body === undefined ? [] : Array.isArray(options.body) ? options.body : [options.body]
    const informational: NodeResponse['informational'] = []
    let continued = false
    const done = new Promise<NodeResponse>((resolve, reject) => {
      const req = http.request({
        host,
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: headers as unknown as http.OutgoingHttpHeaders,
        agent,
      })
      req.on('error', reject)
      req.on('information', (info) => {
        informational.push({
          statusCode: info.statusCode,
          rawHeaders: info.rawHeaders,
          headers: info.headers,
        })
      })
      const sendBody = async () => {
        for (const chunk of body as (string | Buffer)[]) {
          req.write(chunk)
          if (body.length > 1) await sleep(10)
        }
        req.end()
      }
      if (expectsContinue) {
        req.on('continue', () => {
          continued = true
          void sendBody()
        })
        req.flushHeaders()
      } else void sendBody()
      req.on('response', (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            httpVersion: res.httpVersion,
            rawHeaders: res.rawHeaders,
            headers: res.headers,
            body: Buffer.concat(chunks),
            rawTrailers: res.rawTrailers,
            trailers: res.trailers,
            informational,
            continued,
          }),
        )
      })
    })
    return within(done, options.timeoutMs ?? 8_000, `${options.method ?? 'GET'} ${options.path ?? '/'}`)
  }

  /**
   * Destroys every client, closes every proxy and server. A `close()` of `listen()` or of a proxy that
   * does not resolve within 5 s (after every client is gone) is reported by throwing at the end.
   */
  async closeAll(): Promise<void> {
    const problems: string[] = []
    for (const c of this.#raw) c.destroy()
    this.#raw.clear()
    this.#nodeAgent?.destroy()
    this.#nodeAgent = undefined
    const undici = this.#undici
    this.#undici = undefined
    await undici?.destroy().catch(() => {})
    await Promise.all(
      this.#standalones.splice(0).map(async ({ s, sockets }) => {
        const closing = s.close()
        try {
          await within(closing, 5_000, 'listen().close()')
        } catch (e) {
          problems.push(`${(e as Error).message} with ${sockets.size} server-side socket(s) still open`)
          for (const socket of sockets) socket.destroy()
          await within(closing, 2_000, 'listen().close() after destroying its sockets').catch(() => {})
        }
      }),
    )
    await Promise.all(
      this.#proxies.splice(0).map((p) =>
        within(p.close(), 5_000, 'proxy.close()').catch((e: Error) => {
          problems.push(e.message)
        }),
      ),
    )
    for (const s of this.#servers.splice(0)) {
      for (const socket of s.sockets) socket.destroy()
      await new Promise<void>((resolve) => s.server.close(() => resolve()))
    }
    if (problems.length > 0) throw new Error(`closeAll: ${problems.join('; ')}`)
  }
}

/** Open connections of `server` (node's count: sockets handed to `upgrade`/`connect` included). */
export function connectionCount(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))))
}

/** Resolves when `server` has no open connection; throws after `timeoutMs` naming how many are left. */
export async function noConnections(server: net.Server, timeoutMs = 2_000, what = 'server'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const n = await connectionCount(server)
    if (n === 0) return
    if (Date.now() > deadline)
      throw new Error(`${what} still has ${n} open connection(s) after its clients closed`)
    await sleep(10)
  }
}

// ---------------------------------------------------------------------------------------------------
// Environment probes

/** True when a listener can be bound on `host` (e.g. '::1'). */
export async function canListen(host: string): Promise<boolean> {
  const server = net.createServer()
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, host, () => resolve())
    })
    return true
  } catch {
    return false
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

/** True when `curl` runs. */
export function hasCurl(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('curl', ['--version'], { timeout: 5_000 }, (err) => resolve(err === null))
  })
}

/** Runs curl with `args`; resolves with its exit code, stdout and stderr (bounded by `timeoutMs`). */
export function curl(
  args: readonly string[],
  input?: string,
  timeoutMs = 8_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      'curl',
      ['--max-time', String(Math.ceil(timeoutMs / 1000)), ...args],
      { timeout: timeoutMs + 1_000, encoding: 'latin1' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null
        resolve({ code, stdout, stderr })
      },
    )
    if (input !== undefined) child.stdin?.end(input)
  })
}

/**
 * Helpers of the health-check and circuit-breaker integration tests: a restartable loopback backend
 * (`kill()` closes it and destroys its sockets, `restart()` listens again on the same port) whose
 * `/healthz` and ordinary answers can be changed at run time, a bounded load runner that drives GETs
 * through a proxy, and a recorder of a balancer's events (`backend:state` and `breaker:state`
 * transitions, `balancer:panic`, `health:check` results, and the attempts each backend took from
 * `request:end`), timed on the balancer's clock.
 */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Backend, BackendStateEvent, Balancer, BreakerStateEvent } from '@fulcrum/core'
import { afterEach } from 'vitest'
import { HOST, HttpHarness, sleep, waitFor } from './http-failure-helpers.js'

/** What `/healthz` does: answer 200, answer 503, or never answer. */
export type HealthzMode = 'ok' | 'fail' | 'hang'

/** A loopback node:http backend that can die and come back on the same port. */
export interface RestartableBackend {
  readonly name: string
  /** The port, fixed for the backend's whole life. */
  readonly port: number
  /** `http://127.0.0.1:port` */
  readonly url: string
  /** Requests other than `/healthz` received since creation (across restarts). */
  hits: number
  /** `/healthz` requests received since creation (across restarts). */
  checks: number
  /** What `/healthz` does. @default 'ok' */
  healthz: HealthzMode
  /** The status of every other answer. @default 200 */
  status: number
  /** Delay before every other answer, in ms. @default 0 */
  delayMs: number
  /** True while listening. */
  readonly up: boolean
  /** Stops listening and destroys every open connection (the backend dies). */
  kill(): Promise<void>
  /** Listens again on the same port. */
  restart(): Promise<void>
}

/** Creates restartable backends and kills them all in `closeAll()` (call it in `afterEach`). */
export class Fleet {
  readonly #all: FleetBackend[] = []

  /** A backend called `name` on 127.0.0.1, port 0 (then that port for good). */
  async backend(name: string): Promise<RestartableBackend> {
    const b = new FleetBackend(name)
    await b.restart()
    this.#all.push(b)
    return b
  }

  /** `count` backends named `b0`, `b1`, … */
  async backends(count: number): Promise<RestartableBackend[]> {
    const list: RestartableBackend[] = []
    for (let i = 0; i < count; i++) list.push(await this.backend(`b${i}`))
    return list
  }

  async closeAll(): Promise<void> {
    for (const b of this.#all.splice(0)) await b.kill()
  }
}

class FleetBackend implements RestartableBackend {
  readonly name: string
  port = 0
  url = ''
  hits = 0
  checks = 0
  healthz: HealthzMode = 'ok'
  status = 200
  delayMs = 0
  #server: http.Server | undefined
  readonly #sockets = new Set<Socket>()
  readonly #timers = new Set<NodeJS.Timeout>()

  constructor(name: string) {
    this.name = name
  }

  get up(): boolean {
    return this.#server?.listening === true
  }

  async kill(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    if (server === undefined) return
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const s of this.#sockets) s.destroy()
    await closed
  }

  async restart(): Promise<void> {
    if (this.#server !== undefined) return
    const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => this.#answer(req, res))
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => this.#sockets.delete(socket))
    })
    server.on('clientError', (_err, socket) => socket.destroy())
    // The same port again: a few bounded attempts in case the kernel has not released it yet.
    for (let attempt = 0; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen(this.port, HOST, () => {
            server.off('error', reject)
            resolve()
          })
        })
        break
      } catch (err) {
        if (this.port === 0 || attempt >= 20 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE')
          throw err
        await sleep(25)
      }
    }
    this.#server = server
    if (this.port === 0) {
      this.port = (server.address() as AddressInfo).port
      this.url = `http://${HOST}:${this.port}`
    }
  }

  #answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.on('error', () => {})
    res.on('error', () => {})
    req.resume()
    if (req.url === '/healthz') {
      this.checks++
      if (this.healthz === 'hang') return
      const status = this.healthz === 'ok' ? 200 : 503
      req.on('end', () => this.#send(res, status, this.healthz))
      return
    }
    this.hits++
    const status = this.status
    req.on('end', () => {
      if (this.delayMs <= 0) {
        this.#send(res, status, `${status} from ${this.name}`)
        return
      }
      const t = setTimeout(() => {
        this.#timers.delete(t)
        this.#send(res, status, `${status} from ${this.name}`)
      }, this.delayMs)
      this.#timers.add(t)
    })
  }

  #send(res: http.ServerResponse, status: number, body: string): void {
    if (res.destroyed) return
    res.writeHead(status, {
      'content-type': 'text/plain',
      'content-length': Buffer.byteLength(body),
      'x-backend': this.name,
    })
    res.end(body)
  }
}

const REQUEST_TIMEOUT_MS = 5_000

/** `promise`, or a rejection after `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  promise.catch(() => {})
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** One finished request of a {@link load} run. */
export interface LoadResult {
  /** `performance.now()` when the request was sent. */
  readonly at: number
  readonly status: number
  readonly backend: string | undefined
  readonly ms: number
  /** A client error (no response at all). */
  readonly error: string | undefined
}

/**
 * Runs `workers` loops of sequential GETs of `url` until `stop()` says so or `maxMs` passes (a hard
 * bound); a request not answered within 5 s counts as a client error (the loop goes on, and
 * `closeAll()` of the client's harness destroys it). Resolves with every result in completion order.
 */
export async function load(
  get: (url: string) => Promise<{ status: number; headers: Record<string, string | string[] | undefined> }>,
  url: string,
  options: { workers?: number; maxMs: number; stop?: () => boolean; pauseMs?: number },
): Promise<LoadResult[]> {
  const results: LoadResult[] = []
  const deadline = performance.now() + options.maxMs
  const done = (): boolean => performance.now() >= deadline || options.stop?.() === true
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; !done(); i++) {
      const at = performance.now()
      try {
        const res = await withTimeout(get(`${url}/w${w}/${i}`), REQUEST_TIMEOUT_MS)
        const xb = res.headers['x-backend']
        results.push({
          at,
          status: res.status,
          backend: Array.isArray(xb) ? xb[0] : xb,
          ms: performance.now() - at,
          error: undefined,
        })
      } catch (err) {
        results.push({ at, status: 0, backend: undefined, ms: performance.now() - at, error: String(err) })
      }
      if (options.pauseMs !== undefined) await sleep(options.pauseMs)
    }
  }
  await Promise.all(Array.from({ length: options.workers ?? 4 }, (_, w) => worker(w)))
  return results
}

/** A `backend:state` or `breaker:state` transition with the balancer clock's time. */
export interface Transition {
  readonly kind: 'backend' | 'breaker'
  readonly id: string
  readonly from: string
  readonly to: string
  readonly reason: string
  /** `lb.clock.now()` when it was emitted. */
  readonly at: number
}

/** Attempts a backend took, from `request:end`: when each was picked, and its outcome. */
export interface Attempt {
  readonly id: string
  /** Clock time of the pick. */
  readonly startedAt: number
  readonly ok: boolean
  readonly status: number | undefined
}

/** One active check that ended. */
export interface CheckResult {
  readonly id: string
  readonly ok: boolean
  readonly reason: string
  readonly latencyMs: number
  /** `lb.clock.now()` when it ended. */
  readonly at: number
}

/**
 * Records `backend:state`, `breaker:state` and `request:end` of `lb` (times on `lb.clock`), and
 * wakes `waitTransition()` callers.
 */
export class Recorder<Ctx> {
  readonly transitions: Transition[] = []
  readonly attempts: Attempt[] = []
  /** Active checks that ended (`health:check`). */
  readonly checks: CheckResult[] = []
  /** Panic mode entered (`true`) or left, with the clock time (`balancer:panic`). */
  readonly panics: { readonly panic: boolean; readonly at: number }[] = []
  readonly #lb: Balancer<Ctx>
  #wake: (() => void)[] = []

  constructor(lb: Balancer<Ctx>) {
    this.#lb = lb
    const now = () => lb.clock.now()
    lb.on('backend:state', (e: BackendStateEvent) => this.#push('backend', e, now()))
    lb.on('breaker:state', (e: BreakerStateEvent) => this.#push('breaker', e, now()))
    lb.on('balancer:panic', (e) => {
      this.panics.push({ panic: e.panic, at: now() })
    })
    lb.on('health:check', (e) => {
      this.checks.push({ id: e.backend.id, ok: e.ok, reason: e.reason, latencyMs: e.latencyMs, at: now() })
    })
    lb.on('request:end', (e) => {
      this.attempts.push({
        id: e.backend.id,
        startedAt: e.startedAt,
        ok: e.outcome.ok,
        status: e.outcome.status,
      })
    })
  }

  #push(kind: Transition['kind'], e: BackendStateEvent | BreakerStateEvent, at: number): void {
    this.transitions.push({ kind, id: e.backend.id, from: e.from, to: e.to, reason: e.reason, at })
    for (const w of this.#wake.splice(0)) w()
  }

  /** The balancer clock's time. */
  now(): number {
    return this.#lb.clock.now()
  }

  /** The first transition of `id` to `to` (of `kind`) at or after clock time `since`, if any. */
  find(
    kind: Transition['kind'],
    id: string,
    to: string,
    since = Number.NEGATIVE_INFINITY,
  ): Transition | undefined {
    return this.transitions.find((t) => t.kind === kind && t.id === id && t.to === to && t.at >= since)
  }

  /** Waits for {@link Recorder.find} to succeed; throws after `timeoutMs`, listing what was seen. */
  async waitTransition(
    kind: Transition['kind'],
    id: string,
    to: string,
    since: number,
    timeoutMs: number,
  ): Promise<Transition> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const t = this.find(kind, id, to, since)
      if (t !== undefined) return t
      const left = deadline - performance.now()
      if (left <= 0)
        throw new Error(
          `no ${kind}:state ${id} → ${to} within ${timeoutMs} ms; saw ${JSON.stringify(this.transitions)}`,
        )
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#wake.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** True when the balancer was in panic mode at clock time `t` (by the `balancer:panic` events). */
  inPanic(t: number): boolean {
    let panic = false
    for (const p of this.panics) {
      if (p.at > t) break
      panic = p.panic
    }
    return panic
  }

  /** Attempts on backend `id` picked at or after clock time `since`. */
  attemptsOn(id: string, since = Number.NEGATIVE_INFINITY): Attempt[] {
    return this.attempts.filter((a) => a.id === id && a.startedAt >= since)
  }
}

/** The balancer's backend listening on `backend.port`. */
export function backendOf<Ctx>(lb: Balancer<Ctx>, backend: { readonly port: number }): Backend {
  const b = lb.backends().find((x) => x.port === backend.port)
  if (b === undefined) throw new Error(`no backend on port ${backend.port}`)
  return b
}

/**
 * Waits until the active check has every backend of `lb` fully up (its rise/fall counter at
 * `rise + fall − 1`, so that only `fall` failures in a row take it down) and healthy; throws after
 * `timeoutMs`. A check timing out on a busy machine right after start would otherwise leave a backend
 * down, or one failure away from it, when the test begins.
 */
export async function waitFullyUp<Ctx>(
  lb: Balancer<Ctx>,
  check: { status(id: string): { health: number } | undefined },
  rise: number,
  fall: number,
  timeoutMs = 5_000,
): Promise<void> {
  const full = rise + fall - 1
  await waitFor(
    () => lb.backends().every((b) => b.state === 'healthy' && check.status(b.id)?.health === full),
    timeoutMs,
    `every backend fully up (${lb
      .backends()
      .map((b) => `${b.id}: ${b.state} ${check.status(b.id)?.health}`)
      .join(', ')})`,
  )
}

/**
 * The shared fixture of the health and breaker integration tests: an HTTP harness, a fleet of
 * restartable backends and the balancers to close, all torn down after each test.
 */
export function healthFixture(): {
  h: HttpHarness
  fleet: Fleet
  track: <T>(lb: Balancer<T>) => Balancer<T>
} {
  const h = new HttpHarness()
  const fleet = new Fleet()
  const balancers: Balancer<unknown>[] = []
  afterEach(async () => {
    try {
      await h.closeAll()
    } finally {
      for (const lb of balancers.splice(0)) await lb.close()
      await fleet.closeAll()
    }
  })
  return {
    h,
    fleet,
    track: (lb) => {
      balancers.push(lb as Balancer<unknown>)
      return lb
    },
  }
}

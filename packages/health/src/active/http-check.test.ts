import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Balancer, createBalancer } from '@fulcrum/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { sleep, waitFor } from './active.test-support.js'
import type { ActiveHealthCheck } from './checker.js'
import { httpCheck } from './http-check.js'
import type { HttpCheckOptions } from './http-options.js'

interface Backend {
  server: Server
  url: string
  id: string
  /** Requests seen: method, url, host header. */
  seen: { method: string; url: string; host: string | undefined }[]
  /** Connections accepted, and those still open. */
  connections: () => number
  open: () => number
  /** Status for `/switch`. */
  status: number
}

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function backend(server: Server = createServer(), scheme = 'http'): Promise<Backend> {
  const sockets = new Set<Socket>()
  let connections = 0
  const b: Backend = {
    server,
    url: '',
    id: '',
    seen: [],
    connections: () => connections,
    open: () => sockets.size,
    status: 200,
  }
  server.on(scheme === 'https' ? 'secureConnection' : 'connection', (s: Socket) => {
    connections++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    b.seen.push({ method: req.method!, url: req.url!, host: req.headers.host })
    if (req.url === '/hang') return // never answers
    if (req.url === '/503') res.writeHead(503).end('down')
    else if (req.url === '/switch') res.writeHead(b.status).end(`status is ${b.status}`)
    else if (req.url === '/big') res.writeHead(200).end(`${'x'.repeat(100_000)} UP`)
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"UP"}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  b.url = `${scheme}://127.0.0.1:${port}`
  b.id = b.url
  cleanup.push(() => {
    server.closeAllConnections?.()
    return new Promise((resolve) => server.close(resolve))
  })
  return b
}

function balance(b: { url: string }, options: HttpCheckOptions): { lb: Balancer; check: ActiveHealthCheck } {
  const check = httpCheck({ intervalMs: 100, timeoutMs: 90, jitter: 0, ...options })
  const lb = createBalancer().backends([b.url]).health(check).build()
  cleanup.push(() => lb.close())
  return { lb, check }
}

const checks = (check: ActiveHealthCheck, id: string): number => check.status(id)?.checks ?? 0

describe('httpCheck (loopback)', () => {
  it('passes on an expected status; 503 fails with its status as the reason', async () => {
    const b = await backend()
    const ok = balance(b, { path: '/healthz' })
    await waitFor(() => ok.check.status(b.id)!.health === 4, 'fully up')
    expect(ok.check.status(b.id)).toMatchObject({ up: true, lastResult: 'pass', lastReason: 'ok' })
    const down = balance(b, { path: '/503', fall: 1, source: 'active:http2' })
    const reason = () => down.lb.get(b.id)!.unhealthyReasons.get('active:http2')
    await waitFor(() => reason() === 'status 503', 'status 503')
    expect(b.seen.map((r) => r.url)).toContain('/healthz')
  })

  it('failStatus marks a fully-up backend down at once, ignoring fall', async () => {
    const b = await backend()
    const { lb, check } = balance(b, { path: '/switch', fall: 3, failStatus: [500, 502] })
    await waitFor(() => check.status(b.id)?.health === 4, 'fully up')
    const states: string[] = []
    lb.on('backend:state', (e) => states.push(e.reason))
    b.status = 502
    await waitFor(() => lb.get(b.id)!.health === 'unhealthy', 'down')
    // One failure did it: a failure counted against fall would say 'status 502 (3 consecutive failures)'.
    expect(states).toEqual(['active:http: status 502'])
    expect(check.status(b.id)!.health).toBe(0)
  })

  it('matches the body by substring, regex or predicate, reading at most maxBodyBytes', async () => {
    const b = await backend()
    const sub = balance(b, { path: '/healthz', body: '"UP"', source: 's1' })
    const re = balance(b, { path: '/healthz', body: /"status":"DOWN"/, fall: 1, source: 's2' })
    const fn = balance(b, { path: '/healthz', body: (t) => JSON.parse(t).status === 'UP', source: 's3' })
    const big = balance(b, { path: '/big', body: 'UP', maxBodyBytes: 1_000, fall: 1, source: 's4' })
    const last = (x: { check: ActiveHealthCheck }) => x.check.status(b.id)!.lastReason
    await waitFor(() => last(sub) === 'ok' && last(fn) === 'ok', 'passes')
    await waitFor(() => last(re) === 'body mismatch', 'regex mismatch')
    await waitFor(() => last(big) === 'body mismatch', 'big body mismatch') // 'UP' is past the first 1000 bytes
  })

  it('sends the Host header, the method and extra headers', async () => {
    const b = await backend()
    const a = balance(b, { path: '/a', host: 'health.example', method: 'HEAD', headers: { 'x-probe': '1' } })
    balance(b, { path: '/d', source: 's2' })
    await waitFor(() => a.check.status(b.id)!.lastResult === 'pass', 'HEAD passes')
    await waitFor(() => b.seen.some((r) => r.url === '/d'), 'default request')
    const port = new URL(b.url).port
    expect(b.seen.find((r) => r.url === '/a')).toEqual({ method: 'HEAD', url: '/a', host: 'health.example' })
    expect(b.seen.find((r) => r.url === '/d')).toEqual({
      method: 'GET',
      url: '/d',
      host: `127.0.0.1:${port}`,
    })
  })

  it('times out a backend that never answers and closes its socket', async () => {
    const b = await backend()
    const { lb, check } = balance(b, { path: '/hang', intervalMs: 200, timeoutMs: 50, fall: 1 })
    await waitFor(() => checks(check, b.id) >= 1, 'one check')
    expect(lb.get(b.id)!.unhealthyReasons.get('active:http')).toBe('timeout after 50 ms')
    expect(check.status(b.id)!.lastLatencyMs).toBeGreaterThanOrEqual(49)
    await waitFor(() => b.open() === 0, 'socket closed', 150) // before the next check starts
  })

  it('reuseConnection: false opens and closes a connection per check; true keeps one', async () => {
    const fresh = await backend()
    const reuse = await backend()
    // Long enough a timeout that no check times out (that would drop the kept connection).
    const f = balance(fresh, { intervalMs: 150, timeoutMs: 140 })
    const r = balance(reuse, { intervalMs: 150, timeoutMs: 140, reuseConnection: true })
    await waitFor(() => checks(f.check, fresh.id) >= 3 && checks(r.check, reuse.id) >= 3, 'three checks')
    const done = checks(f.check, fresh.id)
    await f.lb.close()
    await r.lb.close()
    // One connection per check (plus perhaps one for a check in flight at close()).
    expect(fresh.connections()).toBeGreaterThanOrEqual(done)
    expect(fresh.connections()).toBeLessThanOrEqual(done + 1)
    expect(reuse.connections()).toBe(1)
    await waitFor(() => fresh.open() === 0 && reuse.open() === 0, 'connections closed')
  })

  it('fails with connect ECONNREFUSED against a closed port', async () => {
    const b = await backend()
    await new Promise((resolve) => b.server.close(resolve))
    const { lb, check } = balance(b, { fall: 1 })
    await waitFor(
      () => lb.get(b.id)!.unhealthyReasons.get('active:http') === 'connect ECONNREFUSED',
      'refused',
    )
    expect(check.status(b.id)!.lastResult).toBe('fail')
  })

  it('close() and removal abort checks in flight and release their connections', async () => {
    const b = await backend()
    const { lb, check } = balance(b, { path: '/hang', intervalMs: 1_000, timeoutMs: 900 })
    await waitFor(() => b.open() === 1 && b.seen.length === 1, 'request in flight')
    lb.remove(b.id)
    await waitFor(() => b.open() === 0, 'socket closed on removal')
    expect(check.status(b.id)).toBeUndefined()
    const kept = await backend()
    const k = balance(kept, { path: '/hang', intervalMs: 1_000, timeoutMs: 900, reuseConnection: true })
    await waitFor(() => kept.open() === 1 && kept.seen.length === 1, 'request in flight')
    await k.lb.close()
    await waitFor(() => kept.open() === 0, 'socket closed on close()')
    await sleep(20)
    expect(kept.seen).toHaveLength(1)
  })
})

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

describe.skipIf(!hasOpenssl)('httpCheck over https (self-signed certificate)', () => {
  let dir = ''
  let key = ''
  let cert = ''
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fulcrum-health-'))
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1']
        .concat(['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')])
        .concat(['-subj', '/CN=health.test', '-addext', 'subjectAltName=DNS:health.test,IP:127.0.0.1']),
      { stdio: 'ignore' },
    )
    key = readFileSync(join(dir, 'key.pem'), 'utf8')
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8')
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('verifies against the given CA, fails without it, passes with rejectUnauthorized: false', async () => {
    const b = await backend(createHttpsServer({ key, cert }) as unknown as Server, 'https')
    const trusted = balance(b, { tls: { ca: cert }, source: 's1' })
    const sni = balance(b, { tls: { ca: cert }, host: 'health.test', source: 's2' })
    const untrusted = balance(b, { fall: 1, source: 's3' })
    const lax = balance(b, { tls: { rejectUnauthorized: false }, source: 's4' })
    const plain = balance(b, { scheme: 'http', fall: 1, source: 's5' })
    const all = [trusted, sni, untrusted, lax, plain]
    const last = (x: { check: ActiveHealthCheck }) => x.check.status(b.id)!.lastReason
    await waitFor(() => [trusted, sni, lax].every((x) => last(x) === 'ok'), 'verified passes')
    await waitFor(() => last(untrusted) === 'DEPTH_ZERO_SELF_SIGNED_CERT', 'untrusted fails')
    await waitFor(() => plain.check.status(b.id)!.lastResult === 'fail', 'plain http fails')
    // Under load a check can time out once; what matters is the verdict each one settles on.
    await waitFor(
      () =>
        all.every(
          (x) => x.lb.get(b.id)!.health === (x === untrusted || x === plain ? 'unhealthy' : 'healthy'),
        ),
      'each verdict settles',
    )
  })
})

/**
 * The 3 origins of the HTTP benchmark, pinned to the load CPU beside wrk: one native nginx process
 * listening on 3 ports when nginx is installed (as bench/tcp's backends), else a node:http process
 * (origin-child.ts). `GET /` answers `ok`, `GET /16k` a 16 KiB body; a 4th port serves nginx's
 * stub_status, whose count of accepted connections tells how often the proxies reconnect.
 */
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { exitChild, nextMessage } from '../tcp/idle.js'
import { freePort, spawnPinned } from '../tcp/system.js'
import { startNative } from '../tcp/targets.js'
import { nginxOriginConfig } from './configs.js'
import { BODY_16K } from './scenarios.js'

const ORIGIN_CHILD = fileURLToPath(new URL('./origin-child.ts', import.meta.url))

export interface Origins {
  readonly ports: readonly number[]
  /** Port of `GET /status` (stub_status format). */
  readonly statusPort: number
  /** `nginx` or `node:http`. */
  readonly kind: string
  stop(): Promise<void>
}

/** Starts the origins on `cpu`, with nginx at `nginx` when it is defined. */
export async function startOrigins(
  nginx: string | undefined,
  dir: string,
  cpu: string | undefined,
): Promise<Origins> {
  const ports = [await freePort(), await freePort(), await freePort()]
  const statusPort = await freePort()
  if (nginx !== undefined) {
    const cfg = join(dir, 'origin.conf')
    writeFileSync(cfg, nginxOriginConfig(dir, ports, statusPort))
    const args = ['-p', dir, '-e', join(dir, 'origin-error.log'), '-c', cfg]
    const proc = await startNative('nginx origins', cpu, nginx, args, [...ports, statusPort])
    return { ports, statusPort, kind: 'nginx', stop: () => proc.stop() }
  }
  const argv = [...process.execArgv, ORIGIN_CHILD, String(statusPort), ...ports.map(String)]
  const child = spawnPinned(cpu, process.execPath, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  await nextMessage(child, 'ready', 30_000)
  return { ports, statusPort, kind: 'node:http', stop: () => exitChild(child) }
}

/**
 * Connections the origins have accepted so far, from stub_status. Each call opens a connection of
 * its own (no agent), which the count includes: between two calls, `b - a - 1` were opened by others.
 */
export function originAccepts(statusPort: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: statusPort, path: '/status', agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (text += d))
      res.on('end', () => {
        const m = /server accepts handled requests\s+(\d+)/.exec(text)
        if (m === null) reject(new Error(`origin status: ${JSON.stringify(text.slice(0, 200))}`))
        else resolve(Number(m[1]))
      })
    })
    req.on('error', reject)
  })
}

/**
 * Checks that 127.0.0.1:port answers `GET /` with 200 and 2 bytes and `GET /16k` with 200 and
 * 16 KiB (an origin or proxy that answers errors fast must not pass for a fast one).
 */
export async function checkAnswers(port: number, what: string): Promise<void> {
  for (const [path, bytes] of [
    ['/', 2],
    ['/16k', BODY_16K],
  ] as const) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`)
    const body = await res.arrayBuffer()
    if (res.status !== 200 || body.byteLength !== bytes)
      throw new Error(`${what} answered GET ${path} with ${res.status} and ${body.byteLength} bytes`)
  }
}

/**
 * Load-side helper processes of the TCP benchmark (pinned to the load CPU):
 *
 * - `hold`: a backend that accepts connections and holds them, never reading or writing; sends
 *   `{ port }` when listening and answers `'count'` with `{ count }` (sockets open now).
 * - `open <port> <n> <concurrency>`: a client that opens `n` connections to 127.0.0.1:port, at
 *   most `concurrency` handshakes at a time, keeps them open, and sends `{ opened, errors }`.
 *
 * - `http <port>...`: the fallback small-request backend when nginx is missing: node:http answering
 *   `ok` on keep-alive connections; sends `{ ready: true }` when listening.
 *
 * Each exits on the message `'exit'` or when the parent goes away.
 */
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'

function httpBackend(ports: readonly number[]): void {
  let listening = 0
  for (const port of ports) {
    const server = http.createServer({ keepAliveTimeout: 600_000 }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' })
      res.end('ok')
    })
    server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => {
      if (++listening === ports.length) process.send?.({ ready: true })
    })
  }
}

function hold(): void {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  })
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
    process.send?.({ port: (server.address() as AddressInfo).port })
  })
  process.on('message', (m) => {
    if (m === 'count') process.send?.({ count: sockets.size })
  })
}

function open(port: number, n: number, concurrency: number): void {
  const sockets: net.Socket[] = []
  let started = 0
  let settled = 0
  let errors = 0
  let firstError: string | undefined
  const next = (): void => {
    if (started >= n) return
    started++
    const s = net.connect(port, '127.0.0.1')
    let done = false
    const settle = (ok: boolean, err?: Error): void => {
      if (done) return
      done = true
      settled++
      if (!ok) {
        errors++
        firstError ??= err?.message
      }
      if (settled === n) process.send?.({ opened: n - errors, errors, firstError })
      else next()
    }
    s.once('connect', () => settle(true))
    s.on('error', (err) => settle(false, err))
    sockets.push(s)
  }
  for (let i = 0; i < Math.min(concurrency, n); i++) next()
}

const mode = process.argv[2]
if (mode === 'hold') hold()
else if (mode === 'open')
  open(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5] ?? 200))
else if (mode === 'http') httpBackend(process.argv.slice(3).map(Number))
else throw new Error('usage: aux-child.ts hold | open <port> <n> [concurrency] | http <port>...')
process.on('message', (m) => {
  if (m === 'exit') process.exit(0)
})
process.on('disconnect', () => process.exit(0))

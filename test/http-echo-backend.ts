/**
 * The echo backend of the Express and Fastify adapter tests: a loopback node:http server that
 * answers JSON of what it saw (method, URL, headers, body length and SHA-256), tracks its sockets,
 * and — with `websocket: true` — echoes WebSocket messages as `name:url:msg`.
 */
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { WebSocketServer } from 'ws'

const HOST = '127.0.0.1'

/** What a backend saw, echoed back as JSON. */
export interface Echo {
  backend: string
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  length: number
  sha256: string
  text: string
}

export interface Backend {
  readonly name: string
  readonly url: string
  readonly server: http.Server
  readonly sockets: Set<Socket>
}

/** Starts an echo backend called `name` on 127.0.0.1, port 0. */
export async function startBackend(name: string, websocket = false): Promise<Backend> {
  const sockets = new Set<Socket>()
  const server = http.createServer((req, res) => {
    const hash = createHash('sha256')
    const chunks: Buffer[] = []
    let length = 0
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk)
      length += chunk.length
      if (length <= 65_536) chunks.push(chunk)
    })
    req.on('end', () => {
      const echo: Echo = {
        backend: name,
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        length,
        sha256: hash.digest('hex'),
        text: length <= 65_536 ? Buffer.concat(chunks).toString() : '',
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name })
      res.end(JSON.stringify(echo))
    })
  })
  if (websocket) {
    const wss = new WebSocketServer({ server })
    wss.on('connection', (ws, req) => {
      ws.on('message', (data) => ws.send(`${name}:${req.url}:${String(data)}`))
    })
  }
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.listen(0, HOST)
  await once(server, 'listening')
  return { name, server, sockets, url: `http://${HOST}:${(server.address() as AddressInfo).port}` }
}

// Callgrind target: the hand-written floor (node:http + one undici Pool per origin, pool.stream,
// hop-by-hop stripped, round robin), the same as bench/http/floor-child.ts without its IPC.
import http from 'node:http'
import { createRequire } from 'node:module'

const { Pool } = createRequire(import.meta.url)('../../../packages/http-proxy/node_modules/undici')
const [port, ...origins] = process.argv.slice(2).map(Number)
const pools = origins.map((p) => new Pool(`http://127.0.0.1:${p}`, { connections: 128 }))
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])
let next = 0
http
  .createServer((req, res) => {
    const pool = pools[next++ % pools.length]
    const headers = {}
    for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k) && v !== undefined) headers[k] = v
    const body = req.method === 'GET' || req.method === 'HEAD' ? null : req
    pool.stream(
      { path: req.url, method: req.method, headers, body },
      ({ statusCode, headers: h }) => {
        const out = {}
        for (const [k, v] of Object.entries(h)) if (!HOP.has(k) && v !== undefined) out[k] = v
        res.writeHead(statusCode, out)
        return res
      },
      (err) => {
        if (err && !res.headersSent) {
          res.statusCode = 502
          res.end()
        }
      },
    )
  })
  .listen(port, '127.0.0.1')
process.on('SIGINT', () => process.exit(0))

/**
 * `floor`: the cost floor of a Node.js L7 reverse proxy, written by hand and kept minimal but
 * honest. node:http server; one undici `Pool` per origin (keep-alive, at most 128 connections as
 * every Node target here); round robin; hop-by-hop request headers (and those named in
 * `Connection`) dropped from the raw header list; `pool.stream()` writing the upstream body into
 * the response; hop-by-hop response headers dropped; 502 when the upstream fails before the
 * response started.
 */
import http from 'node:http'
import { type Dispatcher, Pool } from 'undici'
import { childConfig, listen, ready } from './child-main.js'

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

/** The raw request headers minus the hop-by-hop ones, as undici's flat `[name, value, …]` list. */
function forwardHeaders(raw: readonly string[]): string[] {
  const out: string[] = []
  let listed: Set<string> | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase()
    if (name === 'connection') listed = new Set(raw[i + 1]!.toLowerCase().split(/\s*,\s*/))
    if (!HOP_BY_HOP.has(name)) out.push(raw[i]!, raw[i + 1]!)
  }
  if (listed === undefined) return out
  return out.filter((_, i) => !listed.has(out[i - (i % 2)]!.toLowerCase()))
}

const { port, origins } = childConfig()
const pools = origins.map((origin) => new Pool(origin, { connections: 128 }))
let next = 0

const server = http.createServer((req, res) => {
  const pool = pools[next++ % pools.length]!
  const method = req.method as Dispatcher.HttpMethod
  const options = {
    path: req.url!,
    method,
    headers: forwardHeaders(req.rawHeaders),
    body: method === 'GET' || method === 'HEAD' ? null : req,
  }
  pool.stream(
    options,
    ({ statusCode, headers }) => {
      delete headers.connection
      delete headers['keep-alive']
      delete headers['transfer-encoding']
      res.writeHead(statusCode, headers)
      return res
    },
    (err) => {
      if (err === null) return
      if (res.headersSent) res.destroy(err)
      else res.writeHead(502).end()
    },
  )
})

await listen(server, port)
ready()

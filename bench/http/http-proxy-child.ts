/**
 * `http-proxy`: the npm `http-proxy` package (node-http-proxy) over node:http, with a keep-alive
 * `http.Agent` (at most 128 sockets per origin, as every Node target here) and round robin over
 * the origins, given as pre-parsed `{ protocol, host, port }` targets (a string target would be
 * parsed again on every request). Upstream errors answer 502.
 */
import http from 'node:http'
import httpProxy from 'http-proxy'
import { childConfig, listen, ready } from './child-main.js'

const { port, origins } = childConfig()
const agent = new http.Agent({ keepAlive: true, maxSockets: 128 })
const proxy = httpProxy.createProxyServer({ agent })
proxy.on('error', (_err, _req, res) => {
  if (!(res instanceof http.ServerResponse)) return void res.destroy()
  if (res.headersSent) res.destroy()
  else res.writeHead(502).end()
})
const targets = origins.map((o) => {
  const url = new URL(o)
  return { protocol: url.protocol, host: url.hostname, port: Number(url.port) }
})
let next = 0

const server = http.createServer((req, res) => {
  proxy.web(req, res, { target: targets[next++ % targets.length]! })
})
await listen(server, port)
ready()

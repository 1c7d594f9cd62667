/**
 * The fallback origins of the HTTP benchmark when nginx is missing (run on the load CPU): node:http
 * on every port given after the first, `GET /` answering `ok` and `GET /16k` a 16 KiB body,
 * keep-alive without a request limit; on the first port, `GET /status` in nginx's stub_status
 * format (connections accepted, requests). Sends `{ ready: true }` once every port listens; exits on
 * `'exit'` or when the parent goes away.
 */
import http from 'node:http'
import { BODY_16K } from './scenarios.js'

const OK = Buffer.from('ok')
const BIG = Buffer.alloc(BODY_16K, 'x')
const [statusPort, ...ports] = process.argv.slice(2).map(Number)
let accepts = 0
let requests = 0
let listening = 0
const status = http.createServer((_req, res) => {
  const text = `Active connections: 0 \nserver accepts handled requests\n ${accepts} ${accepts} ${requests} \n`
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(text.length) }).end(text)
})
status.on('connection', () => accepts++)
status.listen({ port: statusPort, host: '127.0.0.1' }, () => {
  if (++listening === ports.length + 1) process.send?.({ ready: true })
})
for (const port of ports) {
  const server = http.createServer({ keepAliveTimeout: 600_000 }, (req, res) => {
    requests++
    const body = req.url === '/16k' ? BIG : req.url === '/' ? OK : undefined
    if (body === undefined) return void res.writeHead(404, { 'content-length': '0' }).end()
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) })
    res.end(body)
  })
  server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => {
    if (++listening === ports.length + 1) process.send?.({ ready: true })
  })
  server.on('connection', () => accepts++)
}
process.on('message', (m) => {
  if (m === 'exit') process.exit(0)
})
process.on('disconnect', () => process.exit(0))

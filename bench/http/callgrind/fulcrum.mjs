// Callgrind target: Fulcrum's reverse proxy from the built packages (dist), round robin over the
// origins given as ports in argv[3..], listening on argv[2]. Exits on SIGINT.
import http from 'node:http'
import { createBalancer } from '../../../packages/core/dist/index.js'
import { createHttpProxy } from '../../../packages/http-proxy/dist/index.js'
import { roundRobin } from '../../../packages/strategies/dist/index.js'

const [port, ...origins] = process.argv.slice(2).map(Number)
const lb = createBalancer()
  .backends(origins.map((p) => `http://127.0.0.1:${p}`))
  .strategy(roundRobin())
  .build()
http.createServer(createHttpProxy(lb)).listen(port, '127.0.0.1')
process.on('SIGINT', () => process.exit(0))

/**
 * `fulcrum`: Fulcrum's L7 reverse proxy in its minimal form, `http.createServer(createHttpProxy(lb))`
 * over a round-robin balancer of the 3 origins, with the package's defaults (one undici Pool per
 * backend, keep-alive). `proxy.attach(server)` only adds the upgrade/connect listeners, unused here.
 *
 * `@fulcrum/http-proxy` is imported with a `string`-typed specifier: TypeScript then does not
 * resolve it (the bench typechecks while packages/http-proxy/src/index.ts is still being written),
 * while esbuild still sees a literal and bundles the package's sources. When the package has no
 * entry yet, bundling fails and the harness skips this target with that reason; run under tsx, the
 * child exits with the message below.
 */
import http from 'node:http'
import { type Balancer, createBalancer } from '@fulcrum/core'
import { roundRobin } from '@fulcrum/strategies'
import { childConfig, listen, ready } from './child-main.js'

type CreateHttpProxy = (balancer: Balancer, options?: object) => http.RequestListener

const { port, origins } = childConfig()
let createHttpProxy: CreateHttpProxy | undefined
try {
  const mod = (await import('@fulcrum/http-proxy' as string)) as { createHttpProxy?: CreateHttpProxy }
  createHttpProxy = mod.createHttpProxy
} catch (err) {
  throw new Error(`fulcrum: cannot load @fulcrum/http-proxy (packages/http-proxy/src/index.ts): ${err}`)
}
if (typeof createHttpProxy !== 'function')
  throw new Error('fulcrum: @fulcrum/http-proxy does not export createHttpProxy(balancer, options?)')

const lb = createBalancer().backends(origins).strategy(roundRobin()).build()
await listen(http.createServer(createHttpProxy(lb)), port)
ready()

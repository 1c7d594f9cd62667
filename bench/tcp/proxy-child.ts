/**
 * A Node L4 proxy in a process of its own, for the TCP benchmark: `pipe` (the hand-written
 * `net` pipe, the Node floor) or `fulcrum` (`createTcpProxy` over a round-robin balancer).
 * run.ts bundles this file with esbuild and runs it as plain `node proxy-child.mjs`.
 *
 * argv: `pipe|fulcrum` and a JSON array of listeners (`[{ port, backends: [{ host, port }] }]`).
 * Sends `{ ready: true }` over IPC once every listener listens; exits on the message `'exit'`
 * (through process.exit, so that `--cpu-prof` writes its profile) or when the parent goes away.
 */
import net from 'node:net'
import { createBalancer } from '@fulcrum/core'
import { roundRobin } from '@fulcrum/strategies'
import { createTcpProxy } from '../../packages/tcp-proxy/src/index.js'
import type { Listener } from './configs.js'

type Kind = 'pipe' | 'fulcrum'

/**
 * The floor: accept, connect to the next backend, pipe both ways. TCP_NODELAY on both sides as in
 * every other target (Fulcrum's default, nginx `tcp_nodelay on`, HAProxy's own); an error on
 * either side destroys the other.
 */
function pipeServer(listener: Listener): net.Server {
  let next = 0
  return net.createServer({ noDelay: true }, (client) => {
    const b = listener.backends[next++ % listener.backends.length]!
    const upstream = net.connect({ host: b.host, port: b.port, noDelay: true })
    client.pipe(upstream)
    upstream.pipe(client)
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
  })
}

async function listenPipe(listener: Listener): Promise<void> {
  const server = pipeServer(listener)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port: listener.port, host: '127.0.0.1', backlog: 4096 }, resolve)
  })
}

async function listenFulcrum(listener: Listener): Promise<void> {
  const lb = createBalancer({ name: `bench-${listener.port}` })
    .backends(listener.backends.map((b) => ({ host: b.host, port: b.port })))
    .strategy(roundRobin())
    .build()
  const proxy = createTcpProxy(lb)
  await proxy.listen({ port: listener.port, host: '127.0.0.1', backlog: 4096 })
}

async function main(): Promise<void> {
  const kind = process.argv[2] as Kind
  const listeners = JSON.parse(process.argv[3] ?? '[]') as Listener[]
  if (kind !== 'pipe' && kind !== 'fulcrum') throw new Error('usage: proxy-child.ts pipe|fulcrum <listeners>')
  for (const l of listeners) await (kind === 'pipe' ? listenPipe(l) : listenFulcrum(l))
  process.on('message', (m) => {
    if (m === 'exit') process.exit(0)
  })
  process.on('disconnect', () => process.exit(0))
  process.on('SIGTERM', () => process.exit(0))
  process.send?.({ ready: true })
}

await main()

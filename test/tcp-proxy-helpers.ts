/**
 * Helpers of the tcp-proxy integration tests: loopback servers, clients and proxies that are all
 * tracked and closed by `closeAll()` (call it in `afterEach`), a port that never completes a
 * handshake, and a reader that records how a socket ended.
 */
import { once } from 'node:events'
import net, { type AddressInfo } from 'node:net'
import { Worker } from 'node:worker_threads'
import type { Balancer, Strategy } from '@fulcrum/core'
import { createTcpProxy, type TcpContext, type TcpProxy, type TcpProxyOptions } from '@fulcrum/tcp-proxy'
import { sleep, waitFor } from './wait.js'

export const HOST = '127.0.0.1'

/** Always the first eligible backend not yet tried, in insertion order (deterministic failover). */
export const inOrder: Strategy = {
  name: 'in-order',
  build: (snapshot) => ({ select: (_ctx, skip) => snapshot.eligible.find((b) => !skip.has(b)) }),
}

export { sleep, waitFor }

/** How a socket ended, with everything it received. */
export interface Received {
  readonly data: Buffer
  readonly ended: boolean
  readonly error: string | undefined
}

/** Collects what `socket` receives until it closes; answers the peer's FIN with its own. */
export function received(socket: net.Socket): Promise<Received> {
  const chunks: Buffer[] = []
  let ended = false
  let error: string | undefined
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('end', () => {
    ended = true
    if (!socket.writableEnded) socket.end()
  })
  socket.on('error', (e: NodeJS.ErrnoException) => {
    error = e.code ?? e.message
  })
  return new Promise((resolve) =>
    socket.once('close', () => resolve({ data: Buffer.concat(chunks), ended, error })),
  )
}

export interface TestServer {
  readonly server: net.Server
  readonly port: number
  /** Sockets accepted and not yet closed. */
  readonly sockets: Set<net.Socket>
  /** Connections accepted since start. */
  accepted: number
}

/** Tracks everything a test opens. */
export class Harness {
  readonly #servers: TestServer[] = []
  readonly #clients = new Set<net.Socket>()
  readonly #proxies: TcpProxy[] = []
  readonly #cleanups: (() => Promise<void>)[] = []

  /** A loopback server with `allowHalfOpen`, whose sockets get an error listener. */
  async server(onConnection: (socket: net.Socket) => void = () => {}): Promise<TestServer> {
    const sockets = new Set<net.Socket>()
    const server = net.createServer({ allowHalfOpen: true })
    const s: TestServer = { server, port: 0, sockets, accepted: 0 }
    server.on('connection', (socket) => {
      s.accepted++
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => sockets.delete(socket))
      onConnection(socket)
    })
    server.listen(0, HOST)
    await once(server, 'listening')
    ;(s as { port: number }).port = (server.address() as AddressInfo).port
    this.#servers.push(s)
    return s
  }

  /** An echo server. */
  echo(): Promise<TestServer> {
    return this.server((socket) => socket.pipe(socket))
  }

  /** A port with nothing listening (ECONNREFUSED). */
  async closedPort(): Promise<number> {
    const server = net.createServer()
    server.listen(0, HOST)
    await once(server, 'listening')
    const { port } = server.address() as AddressInfo
    await new Promise<void>((resolve) => server.close(() => resolve()))
    return port
  }

  /**
   * A port whose connects never complete: a listener in a worker thread that blocks its event loop
   * (so it never accepts), with a backlog of 1 filled by two connections; Linux then drops further
   * SYNs, so a connect hangs until its timeout.
   */
  async hangingPort(): Promise<number> {
    const flag = new Int32Array(new SharedArrayBuffer(4))
    const worker = new Worker(
      `const { parentPort, workerData: flag } = require('node:worker_threads')
       const server = require('node:net').createServer()
       server.listen({ port: 0, host: '${HOST}', backlog: 1 }, () => {
         parentPort.postMessage(server.address().port)
         setImmediate(() => {
           while (Atomics.load(flag, 0) === 0) Atomics.wait(flag, 0, 0, 50)
           server.close()
         })
       })`,
      { eval: true, workerData: flag },
    )
    const [port] = (await once(worker, 'message')) as [number]
    const fillers: net.Socket[] = []
    for (let i = 0; i < 2; i++) {
      const s = net.connect(port, HOST)
      s.on('error', () => {})
      fillers.push(s)
      await once(s, 'connect')
    }
    this.#cleanups.push(async () => {
      for (const s of fillers) s.destroy()
      Atomics.store(flag, 0, 1)
      Atomics.notify(flag, 0)
      await worker.terminate()
    })
    return port
  }

  /** A client connected to `port`, destroyed by `closeAll()`. */
  client(port: number): net.Socket {
    const socket = net.connect({ port, host: HOST, allowHalfOpen: true })
    this.#clients.add(socket)
    socket.on('close', () => this.#clients.delete(socket))
    return socket
  }

  /** A proxy listening on 127.0.0.1, closed by `closeAll()`. */
  async proxy(
    balancer: Balancer<TcpContext>,
    options?: TcpProxyOptions,
  ): Promise<{ proxy: TcpProxy; port: number }> {
    const proxy = createTcpProxy(balancer, options)
    return { proxy, port: await this.listen(proxy) }
  }

  /** Listens on 127.0.0.1 with a proxy made elsewhere, and tracks it. */
  async listen(proxy: TcpProxy): Promise<number> {
    this.#proxies.push(proxy)
    const { port } = await proxy.listen({ port: 0, host: HOST })
    return port
  }

  /** Destroys every client, closes every proxy and server. */
  async closeAll(): Promise<void> {
    for (const c of this.#clients) c.destroy()
    await Promise.all(this.#proxies.splice(0).map((p) => p.close()))
    for (const s of this.#servers.splice(0)) {
      for (const socket of s.sockets) socket.destroy()
      await new Promise<void>((resolve) => s.server.close(() => resolve()))
    }
    for (const cleanup of this.#cleanups.splice(0)) await cleanup()
  }
}

/** Resolves when the server's open connection count is 0. */
export async function noConnections(server: net.Server): Promise<void> {
  const count = (): Promise<number> =>
    new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))))
  const deadline = Date.now() + 2_000
  while ((await count()) > 0) {
    if (Date.now() > deadline) throw new Error('connections still open')
    await sleep(5)
  }
}

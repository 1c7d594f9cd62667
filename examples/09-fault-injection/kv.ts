/**
 * The dependency and the code under test of example 09: a tiny line-based TCP key-value server
 * (think Redis) and a client with per-attempt timeouts and retries on a fresh connection.
 *
 * Protocol: `SET key value\n` → `OK\n`; `GET key\n` → `VALUE value\n` or `NIL\n`.
 */
import net, { type AddressInfo, type Socket } from 'node:net'

/** A running key-value server. */
export interface KvServer {
  readonly port: number
  /** Connections accepted so far. */
  readonly connections: () => number
  close(): Promise<void>
}

/** Starts the key-value server on 127.0.0.1 and a free port. */
export async function startKvServer(): Promise<KvServer> {
  const data = new Map<string, string>()
  const sockets = new Set<Socket>()
  let connections = 0
  const server = net.createServer({ noDelay: true }, (socket) => {
    connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let buffered = ''
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8')
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const [cmd, key = '', ...rest] = buffered.slice(0, nl).split(' ')
        buffered = buffered.slice(nl + 1)
        if (cmd === 'SET') {
          data.set(key, rest.join(' '))
          socket.write('OK\n')
        } else if (cmd === 'GET') {
          const value = data.get(key)
          socket.write(value === undefined ? 'NIL\n' : `VALUE ${value}\n`)
        } else {
          socket.write('ERR unknown command\n')
        }
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** A request took longer than `timeoutMs`. */
export class KvTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`KV request timed out after ${timeoutMs} ms`)
    this.name = 'KvTimeoutError'
  }
}

/** Options of {@link KvClient}. */
export interface KvClientOptions {
  readonly host: string
  readonly port: number
  /** Deadline of one attempt, in ms. */
  readonly timeoutMs: number
  /** Further attempts after a failed one (timeout, reset, closed connection), each on a new connection. */
  readonly retries: number
  /** Called after each failed attempt (for tests and logs). */
  readonly onFailure?: (attempt: number, error: Error) => void
}

/**
 * The code under test: a client that keeps one connection, gives every attempt `timeoutMs`, and on a
 * timeout or a broken connection drops the connection and retries up to `retries` times on a new one.
 */
export class KvClient {
  readonly #options: KvClientOptions
  #socket: Socket | undefined
  #buffered = ''
  #waiting: { resolve: (line: string) => void; reject: (err: Error) => void } | undefined
  /** Attempts made so far, over all requests. */
  attempts = 0

  constructor(options: KvClientOptions) {
    this.#options = options
  }

  async get(key: string): Promise<string | undefined> {
    const line = await this.#request(`GET ${key}`)
    return line === 'NIL' ? undefined : line.replace(/^VALUE /, '')
  }

  async set(key: string, value: string): Promise<void> {
    const line = await this.#request(`SET ${key} ${value}`)
    if (line !== 'OK') throw new Error(`unexpected reply ${line}`)
  }

  close(): void {
    this.#drop(new Error('client closed'))
  }

  async #request(command: string): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      this.attempts++
      try {
        return await this.#attempt(command)
      } catch (err) {
        this.#drop(err as Error)
        this.#options.onFailure?.(attempt, err as Error)
        if (attempt > this.#options.retries) throw err
      }
    }
  }

  #attempt(command: string): Promise<string> {
    const socket = this.#connect()
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new KvTimeoutError(this.#options.timeoutMs)),
        this.#options.timeoutMs,
      )
      this.#waiting = {
        resolve: (line) => {
          clearTimeout(timer)
          resolve(line)
        },
        reject: (err) => {
          clearTimeout(timer)
          reject(err)
        },
      }
      socket.write(`${command}\n`)
    }).finally(() => {
      this.#waiting = undefined
    })
  }

  #connect(): Socket {
    if (this.#socket !== undefined) return this.#socket
    const socket = net.connect({ host: this.#options.host, port: this.#options.port, noDelay: true })
    this.#socket = socket
    this.#buffered = ''
    // Events of a socket this client has already dropped are ignored.
    socket.on('data', (chunk: Buffer) => {
      if (this.#socket !== socket) return
      this.#buffered += chunk.toString('utf8')
      const nl = this.#buffered.indexOf('\n')
      if (nl < 0) return
      const line = this.#buffered.slice(0, nl)
      this.#buffered = this.#buffered.slice(nl + 1)
      this.#waiting?.resolve(line)
    })
    socket.on('error', (err) => {
      if (this.#socket === socket) this.#waiting?.reject(err)
    })
    socket.on('close', () => {
      if (this.#socket !== socket) return
      this.#socket = undefined
      this.#waiting?.reject(Object.assign(new Error('connection closed'), { code: 'ECONNCLOSED' }))
    })
    return socket
  }

  #drop(err: Error): void {
    const socket = this.#socket
    this.#socket = undefined
    socket?.destroy()
    this.#waiting?.reject(err)
  }
}

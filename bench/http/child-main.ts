/**
 * Plumbing shared by the Node targets of the HTTP benchmark (each a process of its own, run from an
 * esbuild bundle as plain `node child.mjs '<json>'`): the listening port and origin URLs from argv,
 * listening on 127.0.0.1, and the IPC protocol with the harness (`{ ready: true }` once listening;
 * exit on the message `'exit'`, on SIGTERM or when the parent goes away, through process.exit so
 * that `--cpu-prof` writes its profile).
 */
import type { Server } from 'node:http'

/** What a Node target is told to do: listen on `port`, balance over `origins`. */
export interface ChildConfig {
  readonly port: number
  /** Origin URLs, e.g. `http://127.0.0.1:40001`. */
  readonly origins: readonly string[]
}

/** The {@link ChildConfig} passed as the first argument. */
export function childConfig(): ChildConfig {
  const config = JSON.parse(process.argv[2] ?? '{}') as Partial<ChildConfig>
  if (typeof config.port !== 'number' || !Array.isArray(config.origins) || config.origins.length === 0)
    throw new Error(`usage: node child.mjs '{"port":N,"origins":["http://127.0.0.1:P",…]}'`)
  return config as ChildConfig
}

/** Listens on 127.0.0.1:port with Node's defaults (backlog 511, as nginx's and HAProxy's). */
export function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
}

/** Tells the harness that the target listens, and arranges for a clean exit. */
export function ready(): void {
  const exit = () => process.exit(0)
  process.on('message', (m) => {
    if (m === 'exit') exit()
  })
  process.on('disconnect', exit)
  process.on('SIGTERM', exit)
  process.send?.({ ready: true })
}

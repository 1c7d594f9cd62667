/**
 * The targets of the HTTP benchmark and how each is started: the Node ones from their bundles
 * (bundle.ts) as processes of their own, nginx and HAProxy from a config written per start; every
 * target pinned to the proxy CPU and listening on 127.0.0.1:port, balancing round robin over the
 * origin ports.
 */
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { exitChild, nextMessage } from '../tcp/idle.js'
import type { Tools } from '../tcp/setup.js'
import { spawnPinned } from '../tcp/system.js'
import { type Running, startNative } from '../tcp/targets.js'
import { bundleChild } from './bundle.js'
import { haproxyHttpConfig, nginxProxyConfig } from './configs.js'

export type NodeTarget = 'fulcrum' | 'floor' | 'http-proxy' | 'reply-from'
export type TargetName = NodeTarget | 'nginx' | 'haproxy'
export const TARGETS: readonly TargetName[] = [
  'fulcrum',
  'floor',
  'http-proxy',
  'reply-from',
  'nginx',
  'haproxy',
]
export const NODE_TARGETS: readonly NodeTarget[] = ['fulcrum', 'floor', 'http-proxy', 'reply-from']

const HTTP_PROXY_ENTRY = fileURLToPath(new URL('../../packages/http-proxy/src/index.ts', import.meta.url))

const CHILD_FILES: Record<NodeTarget, string> = {
  fulcrum: 'fulcrum-child.ts',
  floor: 'floor-child.ts',
  'http-proxy': 'http-proxy-child.ts',
  'reply-from': 'reply-from-child.ts',
}

export interface TargetContext {
  /** Temp dir for configs and logs. */
  readonly dir: string
  /** The proxy CPU (undefined: no pinning). */
  readonly cpu: string | undefined
  readonly tools: Tools
  /** Node arguments running each Node target (its bundle, or the .ts under tsx). */
  readonly node: Partial<Record<NodeTarget, readonly string[]>>
  /** nginx's `keepalive` (idle upstream connections cached). */
  readonly nginxKeepalive: number
  /** Write a V8 CPU profile into this dir (Node targets only). */
  readonly cpuProfDir?: string
}

/**
 * The Node arguments of each Node target: `[bundle.mjs]`, or `[--conditions…, --import, tsx, file.ts]`
 * when `bundle` is false. A target whose bundle fails (fulcrum before packages/http-proxy has an
 * entry) gets the reason instead.
 */
export function prepareNodeTargets(
  names: readonly NodeTarget[],
  bundle: boolean,
): { node: Partial<Record<NodeTarget, readonly string[]>>; failed: Partial<Record<NodeTarget, string>> } {
  const node: Partial<Record<NodeTarget, readonly string[]>> = {}
  const failed: Partial<Record<NodeTarget, string>> = {}
  for (const name of names) {
    const entry = fileURLToPath(new URL(`./${CHILD_FILES[name]}`, import.meta.url))
    if (name === 'fulcrum' && !existsSync(HTTP_PROXY_ENTRY)) {
      failed[name] =
        'packages/http-proxy/src/index.ts does not exist (yet): nothing to import createHttpProxy from'
      continue
    }
    if (!bundle) {
      node[name] = ['--conditions=@fulcrum/source', '--import', 'tsx', entry]
      continue
    }
    const built = bundleChild(entry, name)
    if ('file' in built) node[name] = [built.file]
    else failed[name] = `cannot bundle ${CHILD_FILES[name]}: ${built.error}`
  }
  return { node, failed }
}

async function startNode(name: NodeTarget, port: number, origins: readonly number[], ctx: TargetContext) {
  const args = ctx.node[name]
  if (args === undefined) throw new Error(`${name} was not prepared`)
  const prof = ctx.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${ctx.cpuProfDir}`]
  const config = JSON.stringify({ port, origins: origins.map((p) => `http://127.0.0.1:${p}`) })
  const child = spawnPinned(ctx.cpu, process.execPath, [...prof, ...args, config], {
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 10_000) stderr += d.toString()
  })
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) =>
      reject(
        new Error(`${name} exited (${code ?? signal}) before it was ready: ${stderr.trim().slice(-600)}`),
      ),
    ),
  )
  exited.catch(() => {})
  try {
    await Promise.race([nextMessage(child, 'ready', 30_000), exited])
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
  return { pid: child.pid!, stderr: () => stderr, stop: () => exitChild(child) }
}

/** Starts a target on 127.0.0.1:port; throws with the reason when it cannot (a missing tool, a crash). */
export async function startTarget(
  name: TargetName,
  port: number,
  origins: readonly number[],
  ctx: TargetContext,
  tag: string,
): Promise<Running> {
  switch (name) {
    case 'nginx': {
      if (ctx.tools.nginx === undefined) throw new Error('nginx not found')
      const cfg = join(ctx.dir, `nginx-${tag}.conf`)
      writeFileSync(cfg, nginxProxyConfig(ctx.dir, `nginx-${tag}`, port, origins, ctx.nginxKeepalive))
      const args = ['-p', ctx.dir, '-e', join(ctx.dir, `nginx-${tag}-error.log`), '-c', cfg]
      return startNative('nginx', ctx.cpu, ctx.tools.nginx, args, [port])
    }
    case 'haproxy': {
      if (ctx.tools.haproxy === undefined) throw new Error('haproxy not found')
      const cfg = join(ctx.dir, `haproxy-${tag}.cfg`)
      writeFileSync(cfg, haproxyHttpConfig(port, origins))
      return startNative('haproxy', ctx.cpu, ctx.tools.haproxy, ['-f', cfg, '-db'], [port])
    }
    default:
      return startNode(name, port, origins, ctx)
  }
}

/**
 * Minimal configurations of the native processes the TCP benchmark runs, written to a temp dir:
 * HAProxy in `mode tcp` and nginx `stream` (the L4 targets), and nginx `http` serving a 2-byte
 * `ok` on keep-alive connections (the backend of the small-request test). Every one is a single
 * process with a single thread (HAProxy `nbthread 1` in the foreground; nginx `master_process off`,
 * so the event loop runs in the process we measure), with logging off.
 */
import { existsSync } from 'node:fs'

/** A backend address (always on 127.0.0.1). */
export interface Addr {
  readonly host: string
  readonly port: number
}

/** One listener of an L4 target: its port and the backends it balances over (round robin). */
export interface Listener {
  readonly port: number
  readonly backends: readonly Addr[]
}

/** Where Debian's nginx keeps the dynamic stream module (libnginx-mod-stream). */
const STREAM_MODULES = [
  '/usr/lib/nginx/modules/ngx_stream_module.so',
  '/usr/share/nginx/modules/ngx_stream_module.so',
]

/**
 * How nginx gets `stream`: `'builtin'` (compiled in), a `load_module` path, or undefined when it
 * has neither (nginx-light without libnginx-mod-stream).
 */
export function nginxStream(nginxV: string): 'builtin' | string | undefined {
  if (/--with-stream(\s|$)/.test(nginxV)) return 'builtin'
  if (!/--with-stream=dynamic/.test(nginxV)) return undefined
  return STREAM_MODULES.find((p) => existsSync(p))
}

/** HAProxy `mode tcp`, one frontend per listener, `balance roundrobin`. */
export function haproxyConfig(listeners: readonly Listener[], maxconn: number): string {
  const lines = [
    'global',
    '  nbthread 1',
    `  maxconn ${maxconn}`,
    '',
    'defaults',
    '  mode tcp',
    `  maxconn ${maxconn}`,
    '  timeout connect 5s',
    '  timeout client 10m',
    '  timeout server 10m',
  ]
  listeners.forEach((l, i) => {
    lines.push('', `frontend f${i}`, `  bind 127.0.0.1:${l.port}`, `  default_backend b${i}`)
    lines.push('', `backend b${i}`, '  balance roundrobin')
    for (const [j, b] of l.backends.entries()) lines.push(`  server s${j} ${b.host}:${b.port}`)
  })
  return `${lines.join('\n')}\n`
}

function nginxHead(dir: string, connections: number, stream: string | undefined): string[] {
  const head = stream !== undefined && stream !== 'builtin' ? [`load_module ${stream};`] : []
  return [
    ...head,
    'daemon off;',
    'master_process off;',
    'worker_processes 1;',
    `worker_rlimit_nofile ${connections + 32};`,
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    `events { worker_connections ${connections}; }`,
  ]
}

/**
 * nginx `stream`: one server per listener, an upstream (round robin) of its backends; room for
 * `maxconn` client connections (each is 2 of nginx's worker_connections).
 */
export function nginxStreamConfig(
  dir: string,
  listeners: readonly Listener[],
  maxconn: number,
  stream: string,
): string {
  const lines = [...nginxHead(dir, 2 * maxconn + 32, stream), 'stream {']
  listeners.forEach((l, i) => {
    lines.push(`  upstream u${i} {`)
    for (const b of l.backends) lines.push(`    server ${b.host}:${b.port};`)
    lines.push('  }')
    lines.push(`  server { listen 127.0.0.1:${l.port}; proxy_pass u${i}; proxy_timeout 10m; }`)
  })
  lines.push('}')
  return `${lines.join('\n')}\n`
}

/** nginx `http` on each port: `return 200 'ok'`, keep-alive without a request limit. */
export function nginxHttpConfig(dir: string, ports: readonly number[]): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
    (k) => `  ${k}_temp_path ${dir}/${k};`,
  )
  return `${[
    ...nginxHead(dir, 4096, undefined),
    'http {',
    '  access_log off;',
    ...temp,
    '  keepalive_requests 100000000;',
    '  keepalive_timeout 600s;',
    '  default_type text/plain;',
    '  server {',
    ...ports.map((p) => `    listen 127.0.0.1:${p};`),
    "    location / { return 200 'ok'; }",
    '  }',
    '}',
  ].join('\n')}\n`
}

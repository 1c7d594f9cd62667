/**
 * Configurations of the native processes of the HTTP benchmark, written to a temp dir: the nginx
 * origins (3 ports in one process answering `GET /` with `ok` and `GET /16k` with a 16 KiB file)
 * and the two native reverse proxies, nginx (`upstream` with `keepalive 64`) and HAProxy
 * (`mode http`, `http-reuse always`). Each proxy has a single worker thread and no logs; keep-alive
 * has no request limit anywhere (nginx's default of 1000 requests per connection would otherwise
 * reconnect wrk and the upstreams, which no other target does).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BODY_16K } from './scenarios.js'

/** Client connections the native proxies accept (HAProxy maxconn, nginx worker_connections / 2). */
const MAX_CONNECTIONS = 4096

function tempPaths(dir: string, tag: string): string[] {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
    (k) => `  ${k}_temp_path ${dir}/${tag}-${k};`,
  )
}

function nginxHead(dir: string, tag: string, master: boolean): string[] {
  return [
    'daemon off;',
    `master_process ${master ? 'on' : 'off'};`,
    'worker_processes 1;',
    `worker_rlimit_nofile ${2 * MAX_CONNECTIONS + 64};`,
    `pid ${dir}/${tag}.pid;`,
    `error_log ${dir}/${tag}-error.log warn;`,
    `events { worker_connections ${2 * MAX_CONNECTIONS}; }`,
  ]
}

const KEEPALIVE = ['  keepalive_requests 100000000;', '  keepalive_timeout 600s;']

/**
 * The origins: one nginx process (no master) listening on every port, `ok` at `/` and a static
 * 16 KiB file at `/16k` (sendfile), and `stub_status` on `statusPort` (its `accepts` tell how many
 * upstream connections the proxies opened). Writes the file under `dir` and returns the config.
 */
export function nginxOriginConfig(dir: string, ports: readonly number[], statusPort: number): string {
  const www = join(dir, 'www')
  mkdirSync(www, { recursive: true })
  writeFileSync(join(www, '16k'), Buffer.alloc(BODY_16K, 'x'))
  return `${[
    ...nginxHead(dir, 'origin', false),
    'http {',
    '  access_log off;',
    ...tempPaths(dir, 'origin'),
    ...KEEPALIVE,
    '  sendfile on;',
    '  default_type text/plain;',
    '  server {',
    ...ports.map((p) => `    listen 127.0.0.1:${p};`),
    "    location = / { return 200 'ok'; }",
    `    location = /16k { root ${www}; }`,
    '  }',
    `  server { listen 127.0.0.1:${statusPort}; location = /status { stub_status; } }`,
    '}',
  ].join('\n')}\n`
}

/**
 * nginx as a reverse proxy: a master and 1 worker (both measured), `upstream` round robin over the
 * origins caching `keepalive` idle upstream connections (256, BENCH_NGINX_KEEPALIVE), HTTP/1.1
 * upstream with the `Connection` header cleared (the documented way to keep them alive). With more
 * requests in flight than the cache holds, nginx closes the surplus connections as they go idle
 * and opens new ones: at 256 client connections it reconnects for a good share of the requests.
 */
export function nginxProxyConfig(
  dir: string,
  tag: string,
  port: number,
  origins: readonly number[],
  keepalive: number,
): string {
  return `${[
    ...nginxHead(dir, tag, true),
    'http {',
    '  access_log off;',
    ...tempPaths(dir, tag),
    ...KEEPALIVE,
    '  upstream origins {',
    ...origins.map((p) => `    server 127.0.0.1:${p};`),
    `    keepalive ${keepalive};`,
    '    keepalive_requests 100000000;',
    '    keepalive_timeout 600s;',
    '  }',
    '  server {',
    `    listen 127.0.0.1:${port};`,
    '    location / {',
    '      proxy_pass http://origins;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    '    }',
    '  }',
    '}',
  ].join('\n')}\n`
}

/** HAProxy `mode http`, one thread, `balance roundrobin`, `http-reuse always`, no log section. */
export function haproxyHttpConfig(port: number, origins: readonly number[]): string {
  return `${[
    'global',
    '  nbthread 1',
    `  maxconn ${MAX_CONNECTIONS}`,
    '',
    'defaults',
    '  mode http',
    `  maxconn ${MAX_CONNECTIONS}`,
    '  timeout connect 5s',
    '  timeout client 600s',
    '  timeout server 600s',
    '  timeout http-keep-alive 600s',
    '',
    'frontend f',
    `  bind 127.0.0.1:${port}`,
    '  default_backend origins',
    '',
    'backend origins',
    '  balance roundrobin',
    '  http-reuse always',
    ...origins.map((p, i) => `  server s${i} 127.0.0.1:${p}`),
  ].join('\n')}\n`
}

/**
 * Tool detection and the backends of the TCP benchmark: `iperf3 -s` (throughput) and nginx http
 * on 3 ports answering `ok` (small requests; a node:http process when nginx is missing).
 */
import { spawnSync } from 'node:child_process'
import { exitChild, loadChild, nextMessage } from './idle.js'
import { freePort, which } from './system.js'
import { type Running, startHttpBackend, startIperfServer } from './targets.js'

export interface Tools {
  readonly iperf3: string | undefined
  readonly wrk: string | undefined
  readonly haproxy: string | undefined
  readonly nginx: string | undefined
  /** `nginx -V` output (configure arguments), when nginx exists. */
  readonly nginxV: string | undefined
  readonly versions: Record<string, string>
  readonly notes: string[]
}

function firstLine(cmd: string, args: readonly string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  return `${r.stdout}${r.stderr}`.trim().split('\n')[0] ?? 'unknown'
}

export function tools(): Tools {
  const iperf3 = which('iperf3')
  const wrk = which('wrk')
  const haproxy = which('haproxy')
  const nginx = which('nginx')
  const notes: string[] = []
  const versions: Record<string, string> = {}
  if (iperf3 === undefined) notes.push('iperf3 not found: throughput skipped (apt-get install iperf3)')
  else versions.iperf3 = firstLine(iperf3, ['--version'])
  if (wrk === undefined) notes.push('wrk not found: small-request test skipped (apt-get install wrk)')
  else versions.wrk = firstLine(wrk, ['--version']).replace(/\s+Copyright.*/, '')
  if (haproxy === undefined) notes.push('haproxy not found: HAProxy skipped (apt-get install haproxy)')
  else versions.haproxy = firstLine(haproxy, ['-v'])
  let nginxV: string | undefined
  if (nginx === undefined) notes.push('nginx not found: nginx stream skipped, node:http backend used')
  else {
    const r = spawnSync(nginx, ['-V'], { encoding: 'utf8' })
    nginxV = `${r.stdout}${r.stderr}`
    versions.nginx = nginxV.split('\n')[0] ?? 'unknown'
  }
  return { iperf3, wrk, haproxy, nginx, nginxV, versions, notes }
}

export interface Backends {
  readonly iperfPort: number
  readonly httpPorts: readonly number[]
  /** Restarts `iperf3 -s` after a failed run (a failed test can leave it stuck). */
  recover(): Promise<void>
  stop(): Promise<void>
}

/** Starts the backends on the load CPU. */
export async function startBackends(tool: Tools, dir: string, cpu: string | undefined): Promise<Backends> {
  const iperfPort = await freePort()
  const httpPorts = [await freePort(), await freePort(), await freePort()]
  let iperf: Running | undefined =
    tool.iperf3 === undefined ? undefined : await startIperfServer(tool.iperf3, cpu, iperfPort)
  let stopHttp: () => Promise<void> = async () => {}
  if (tool.nginx !== undefined) {
    const nginx = await startHttpBackend(tool.nginx, dir, cpu, httpPorts)
    stopHttp = () => nginx.stop()
  } else {
    const child = loadChild(cpu, ['http', ...httpPorts.map(String)])
    await nextMessage(child, 'ready', 10_000)
    stopHttp = () => exitChild(child)
  }
  return {
    iperfPort,
    httpPorts,
    recover: async () => {
      if (tool.iperf3 === undefined) return
      await iperf?.stop()
      iperf = await startIperfServer(tool.iperf3, cpu, iperfPort)
    },
    stop: async () => {
      await iperf?.stop()
      await stopHttp()
    },
  }
}

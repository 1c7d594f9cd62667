/**
 * Builds the upstream request head from the client's raw headers in one pass: hop-by-hop fields
 * and the fields `Connection` nominates are dropped first, then the gateway's own fields
 * (`X-Forwarded-*`, `Forwarded`, `Via`) are added, so a client's `Connection` can never remove them.
 * Repeated fields stay separate lines in their order. `Host` is counted and checked (400 on none
 * for HTTP/1.1, on two, or on a bad value), `Max-Forwards` is decremented, `Expect` is consumed
 * here (the server already answered `100 Continue`).
 */
import type { IncomingMessage } from 'node:http'
import type { ProxyConfig } from './config.js'
import { appendList, forwardedElement, viaProtocol } from './forwarded.js'
import { isHopByHop, nominated, teAllowsTrailers } from './hop-by-hop.js'
import { validHost } from './request-target.js'

/** @internal What the head builder learned about the request; filled in place. */
export interface RequestFacts {
  /** The flat `[name, value, …]` upstream header list. */
  upstreamHeaders: string[]
  /** The client's Host (or the absolute-form authority). */
  host: string | undefined
  /** Declared `Content-Length`, or -1. */
  contentLength: number
  /** True when the request had `Transfer-Encoding` (a body of unknown length). */
  chunked: boolean
  /** `Max-Forwards` as received, or -1. */
  maxForwards: number
  /** The `Cookie` header(s), joined, when sticky sessions need them. */
  cookie: string | undefined
}

/** @internal The refusal for a transfer coding other than `chunked` (answered with 501). */
export const UNSUPPORTED_CODING = 'Unsupported transfer coding'
/** @internal The refusal for a body whose length cannot be determined (final coding not chunked). */
const UNFRAMED = 'Transfer-Encoding without chunked as the final coding'

/**
 * @internal Fills `facts` for `req`. Returns an error message for a request the gateway must
 * refuse with 400, else `undefined`.
 */
export function buildRequestHead(
  req: IncomingMessage,
  config: ProxyConfig,
  authority: string | undefined,
  remoteAddress: string,
  facts: RequestFacts,
): string | undefined {
  const raw = req.rawHeaders
  const n = raw.length
  let drop: Set<string> | undefined
  for (let i = 0; i < n; i += 2) {
    const name = raw[i]!
    if (name.length === 10 && name.toLowerCase() === 'connection') drop = nominated(raw[i + 1]!, drop)
  }
  const trusted = (config.xForwarded || config.forwarded) && config.trust(remoteAddress)
  const out: string[] = []
  let hosts = 0
  let xff: string | undefined
  let xfProto: string | undefined
  let xfHost: string | undefined
  let fwd: string | undefined
  let via: string | undefined
  for (let i = 0; i < n; i += 2) {
    const name = raw[i]!
    const value = raw[i + 1]!
    const len = name.length
    if (drop?.has(name.toLowerCase())) continue
    // Names are compared by length first: most headers match no case and cost one switch.
    switch (len) {
      case 2:
        if (name.toLowerCase() === 'te') {
          if (teAllowsTrailers(value)) out.push('te', 'trailers')
          continue
        }
        break
      case 3:
        if (name.toLowerCase() === 'via') {
          via = via === undefined ? value : `${via}, ${value}`
          continue
        }
        break
      case 4:
        if (name.toLowerCase() === 'host') {
          hosts++
          facts.host = value
          continue
        }
        break
      case 6:
        if (name.toLowerCase() === 'expect') continue
        if (config.sticky !== undefined && name.toLowerCase() === 'cookie')
          facts.cookie = facts.cookie === undefined ? value : `${facts.cookie}; ${value}`
        break
      case 7:
        if (isHopByHop(name)) continue
        break
      case 9:
        if (name.toLowerCase() === 'forwarded') {
          if (trusted) fwd = fwd === undefined ? value : `${fwd}, ${value}`
          continue
        }
        break
      case 10: {
        const lower = name.toLowerCase()
        if (lower === 'connection' || lower === 'keep-alive') continue
        break
      }
      case 12:
        if (name.toLowerCase() === 'max-forwards') {
          facts.maxForwards = /^\d+$/.test(value) ? Number(value) : -1
          if (facts.maxForwards >= 0 && (req.method === 'OPTIONS' || req.method === 'TRACE')) {
            if (facts.maxForwards > 0) out.push(name, String(facts.maxForwards - 1))
            continue
          }
        }
        break
      case 14: {
        const lower = name.toLowerCase()
        if (lower === 'http2-settings') continue
        if (lower === 'content-length') facts.contentLength = Number(value)
        break
      }
      case 15:
        if (name.toLowerCase() === 'x-forwarded-for') {
          if (trusted) xff = xff === undefined ? value : `${xff}, ${value}`
          continue
        }
        break
      case 16: {
        const lower = name.toLowerCase()
        if (lower === 'proxy-connection') continue
        if (lower === 'x-forwarded-host') {
          if (trusted && xfHost === undefined) xfHost = value
          continue
        }
        break
      }
      case 17: {
        const lower = name.toLowerCase()
        if (lower === 'transfer-encoding') {
          // RFC 9112 §6.3: chunked must be the final coding (else 400); Node de-chunks, and any other
          // coding would reach the backend undeclared (§6.1: 501).
          const codings = value.toLowerCase()
          if (facts.chunked || !/(?:^|,)\s*chunked\s*$/.test(codings)) return UNFRAMED
          if (codings.trim() !== 'chunked') return UNSUPPORTED_CODING
          facts.chunked = true
          continue
        }
        if (lower === 'x-forwarded-proto') {
          if (trusted && xfProto === undefined) xfProto = value
          continue
        }
        break
      }
    }
    out.push(name, value)
  }
  if (hosts > 1) return 'More than one Host header'
  if (hosts === 0 && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1 && authority === undefined)
    return 'Missing Host header'
  if (facts.host !== undefined && !validHost(facts.host)) return 'Invalid Host header'
  if (authority !== undefined) facts.host = authority
  if (facts.host !== undefined) {
    out.push('host', facts.host)
  }
  const proto = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http'
  if (config.xForwarded) {
    out.push('x-forwarded-for', appendList(xff, remoteAddress))
    out.push('x-forwarded-proto', xfProto ?? proto)
    if (xfHost !== undefined || facts.host !== undefined) out.push('x-forwarded-host', xfHost ?? facts.host!)
  }
  if (config.forwarded)
    out.push('forwarded', appendList(fwd, forwardedElement(remoteAddress, facts.host, proto)))
  if (config.via !== undefined)
    out.push(
      'via',
      appendList(
        via,
        req.httpVersion === '1.1' ? config.via11! : `${viaProtocol(req.httpVersion)} ${config.via}`,
      ),
    )
  else if (via !== undefined) out.push('via', via)
  facts.upstreamHeaders = out
  return undefined
}

/** @internal Replaces the value of every `host` field of a flat header list (after hooks may have moved it). */
export function setHost(headers: string[], value: string): void {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!
    if (name.length === 4 && name.toLowerCase() === 'host') headers[i + 1] = value
  }
}

/** @internal True when a flat header list has a `host` field. */
export function hasHost(headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!
    if (name.length === 4 && name.toLowerCase() === 'host') return true
  }
  return false
}

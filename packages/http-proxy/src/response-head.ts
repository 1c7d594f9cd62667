/**
 * Converts an upstream response head (undici's raw `[name, value, …]` buffers) into the flat
 * string list `res.writeHead()` takes, dropping hop-by-hop fields and the ones `Connection`
 * nominates. Repeated fields — `Set-Cookie` above all — stay separate, in order, never folded.
 */
import { isHopByHop, nominated } from './hop-by-hop.js'

/** @internal Header buffers as undici delivers them. */
export type RawHeaders = readonly (Buffer | string | readonly (Buffer | string)[])[]

type Latin1 = Buffer & { latin1Slice(start: number, end: number): string }

function text(v: Buffer | string | readonly (Buffer | string)[]): string {
  if (typeof v === 'string') return v
  // latin1Slice skips toString()'s encoding dispatch; every header byte maps to one char.
  if (Buffer.isBuffer(v)) return (v as Latin1).latin1Slice(0, v.length)
  return v.map(text).join(', ')
}

/** @internal The end-to-end fields of an upstream head, as a flat string list. */
export function responseHeaders(raw: RawHeaders): string[] {
  const n = raw.length
  const out: string[] = []
  let drop: Set<string> | undefined
  for (let i = 0; i < n; i += 2) {
    const name = text(raw[i]!)
    if (isHopByHop(name)) {
      if (name.length === 10 && name.toLowerCase() === 'connection') drop = nominated(text(raw[i + 1]!), drop)
      continue
    }
    out.push(name, text(raw[i + 1]!))
  }
  // Rare: `Connection` named end-to-end-looking fields; drop them after the one pass.
  if (drop === undefined) return out
  const kept: string[] = []
  for (let i = 0; i < out.length; i += 2)
    if (!drop.has(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!)
  return kept
}

/** @internal The first value of `name` (lower-case) in a raw head, or `undefined`. */
export function rawHeader(raw: RawHeaders, name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!
    if ((k as Buffer).length === name.length && text(k).toLowerCase() === name) return text(raw[i + 1]!)
  }
  return undefined
}

/** @internal Trailer fields as `[name, value]` pairs for `res.addTrailers()`. */
export function trailerPairs(raw: RawHeaders): [string, string][] {
  const out: [string, string][] = []
  for (let i = 0; i < raw.length; i += 2) out.push([text(raw[i]!), text(raw[i + 1]!)])
  return out
}

/**
 * @internal `Retry-After` in milliseconds (delay-seconds or an HTTP-date), or `undefined` when
 * absent or unparsable.
 */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined
  const v = value.trim()
  if (/^\d+$/.test(v)) return Number(v) * 1000
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/**
 * Hop-by-hop header rules (RFC 9110 §7.6.1): the fields a proxy consumes on each connection and
 * never forwards, plus the fields the `Connection` header nominates. Name checks switch on length
 * first so that the common end-to-end header costs one comparison and no lower-casing.
 */

/** @internal Lower-case names that are always hop-by-hop (or must never reach the upstream client). */
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
])

/** Lengths of the names in {@link HOP}; a name of another length is end-to-end without more work. */
const HOP_LENGTHS = new Set([...HOP].map((n) => n.length))

/** @internal True when `name` (any case) is one of the always-hop-by-hop fields. */
export function isHopByHop(name: string): boolean {
  return HOP_LENGTHS.has(name.length) && HOP.has(name.toLowerCase())
}

/**
 * @internal The lower-case field names a `Connection` value nominates, besides the ones that are
 * hop-by-hop anyway (`close`, `keep-alive`, `upgrade` …). `undefined` when there are none, which is
 * the common case and allocates nothing beyond the split of an unusual value.
 */
export function nominated(value: string, into: Set<string> | undefined): Set<string> | undefined {
  if (value.length === 0) return into
  const lower = value.toLowerCase()
  if (lower === 'keep-alive' || lower === 'close' || lower === 'upgrade') return into
  let set = into
  for (const part of lower.split(',')) {
    const token = part.trim()
    if (token.length === 0 || token === 'close' || HOP.has(token)) continue
    set ??= new Set()
    set.add(token)
  }
  return set
}

/** @internal True when `value` of a `TE` field lists `trailers` (the only TE value that is forwarded). */
export function teAllowsTrailers(value: string): boolean {
  const lower = value.toLowerCase()
  if (!lower.includes('trailers')) return false
  for (const part of lower.split(',')) if (part.split(';')[0]!.trim() === 'trailers') return true
  return false
}

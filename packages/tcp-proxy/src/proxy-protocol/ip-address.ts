/**
 * @internal Strict IP literal validation, binary conversion and canonical formatting for the PROXY
 * protocol codec.
 */
import { isIPv4, isIPv6 } from 'node:net'

const IPV4_STRICT = /^(?:0|[1-9]\d{0,2})(?:\.(?:0|[1-9]\d{0,2})){3}$/

/**
 * @internal True for a dotted-quad IPv4 literal with every octet in 0–255 and no leading zeros
 * (`010.0.0.1` is rejected: some stacks read it as octal).
 *
 * @example
 * ```ts
 * isStrictIPv4('10.0.0.1') // true
 * isStrictIPv4('10.0.0.01') // false
 * ```
 */
export function isStrictIPv4(text: string): boolean {
  return IPV4_STRICT.test(text) && isIPv4(text)
}

/**
 * @internal True for an IPv6 literal as `node:net` accepts it, minus zone ids (`fe80::1%eth0`),
 * which have no meaning outside the host that wrote them. Embedded IPv4 (`::ffff:10.0.0.1`) is
 * allowed, with the same no-leading-zero rule.
 *
 * @example
 * ```ts
 * isStrictIPv6('2001:db8::1') // true
 * isStrictIPv6('fe80::1%eth0') // false
 * ```
 */
export function isStrictIPv6(text: string): boolean {
  if (text.includes('%') || !isIPv6(text)) return false
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  return !tail.includes('.') || isStrictIPv4(tail)
}

/**
 * @internal Writes a validated IPv4 literal as 4 bytes at `offset`.
 *
 * @example
 * ```ts
 * const out = Buffer.alloc(4)
 * writeIPv4('192.0.2.1', out, 0) // out = c0 00 02 01
 * ```
 */
export function writeIPv4(text: string, out: Buffer, offset: number): void {
  const octets = text.split('.')
  for (let i = 0; i < 4; i++) out[offset + i] = Number(octets[i])
}

/**
 * @internal Writes a validated IPv6 literal (see {@link isStrictIPv6}) as 16 bytes at `offset`,
 * expanding `::` and an embedded dotted IPv4 tail.
 *
 * @example
 * ```ts
 * const out = Buffer.alloc(16)
 * writeIPv6('2001:db8::1', out, 0) // out = 20 01 0d b8 00 … 00 01
 * ```
 */
export function writeIPv6(text: string, out: Buffer, offset: number): void {
  let hex = text
  const lastColon = hex.lastIndexOf(':')
  const tail = hex.slice(lastColon + 1)
  if (tail.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number)
    hex = `${hex.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const gap = hex.indexOf('::')
  let groups: string[]
  if (gap === -1) {
    groups = hex.split(':')
  } else {
    const left = gap === 0 ? [] : hex.slice(0, gap).split(':')
    const rightText = hex.slice(gap + 2)
    const right = rightText === '' ? [] : rightText.split(':')
    groups = [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right]
  }
  for (let i = 0; i < 8; i++) out.writeUInt16BE(Number.parseInt(groups[i] ?? '0', 16), offset + 2 * i)
}

/**
 * @internal Formats 4 bytes at `offset` as a dotted-quad IPv4 literal.
 *
 * @example
 * ```ts
 * formatIPv4(Buffer.from([192, 0, 2, 1]), 0) // '192.0.2.1'
 * ```
 */
export function formatIPv4(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`
}

/**
 * @internal Formats 16 bytes at `offset` as an IPv6 literal exactly the way Node (libuv's
 * `inet_ntop`) reports socket addresses: lowercase hex without leading zeros, the longest run of two
 * or more zero groups (the first one on a tie) compressed to `::`, and a dotted IPv4 tail for
 * IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible (`::a.b.c.d`) addresses.
 *
 * @example
 * ```ts
 * formatIPv6(Buffer.from('20010db8000000000000000000000001', 'hex'), 0) // '2001:db8::1'
 * formatIPv6(Buffer.from('00000000000000000000ffffc0000201', 'hex'), 0) // '::ffff:192.0.2.1'
 * ```
 */
export function formatIPv6(buf: Buffer, offset: number): string {
  const words: number[] = []
  for (let i = 0; i < 8; i++) words.push(buf.readUInt16BE(offset + 2 * i))
  let bestBase = -1
  let bestLen = 0
  let runBase = -1
  for (let i = 0; i <= 8; i++) {
    if (i < 8 && words[i] === 0) {
      if (runBase === -1) runBase = i
    } else if (runBase !== -1) {
      const len = i - runBase
      if (len > bestLen) {
        bestBase = runBase
        bestLen = len
      }
      runBase = -1
    }
  }
  if (bestLen < 2) bestBase = -1
  if (bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
    const prefix = bestLen === 5 ? '::ffff:' : '::'
    return `${prefix}${formatIPv4(buf, offset + 12)}`
  }
  let out = ''
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += '::'
      continue
    }
    if (out !== '' && !out.endsWith('::')) out += ':'
    out += (words[i] ?? 0).toString(16)
  }
  return out
}

/**
 * @internal The canonical form (see {@link formatIPv6}) of a validated IPv6 literal.
 *
 * @example
 * ```ts
 * canonicalIPv6('2001:0DB8:0:0:0:0:0:0001') // '2001:db8::1'
 * ```
 */
export function canonicalIPv6(text: string): string {
  const bytes = Buffer.alloc(16)
  writeIPv6(text, bytes, 0)
  return formatIPv6(bytes, 0)
}

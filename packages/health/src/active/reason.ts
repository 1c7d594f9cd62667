/** Longest reason kept, in characters: reasons end up in snapshots, logs and metric labels. */
const MAX_REASON = 200

/**
 * A short, useful reason for a failed check from an error: `'connect ECONNREFUSED'`,
 * `'read ECONNRESET'`, `'getaddrinfo ENOTFOUND'`, `'DEPTH_ZERO_SELF_SIGNED_CERT'`, or the message
 * (`'other side closed'`), truncated to 200 characters.
 *
 * @example
 * ```ts
 * errorReason(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', syscall: 'connect' })) // 'connect ECONNREFUSED'
 * ```
 */
export function errorReason(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; syscall?: unknown }
    if (typeof e.code === 'string' && e.code !== '' && !e.code.startsWith('UND_ERR'))
      return typeof e.syscall === 'string' && e.syscall !== '' ? `${e.syscall} ${e.code}` : e.code
  }
  return messageReason(err)
}

/**
 * The message of an error (or the value itself), truncated to 200 characters; `'error'` when empty.
 *
 * @example
 * ```ts
 * messageReason(new Error('database unreachable')) // 'database unreachable'
 * ```
 */
export function messageReason(err: unknown): string {
  let s: string
  if (err instanceof Error) s = err.message || err.name
  else if (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { message?: unknown }).message === 'string'
  )
    s = (err as { message: string }).message
  else s = String(err)
  if (s === '') return 'error'
  return s.length > MAX_REASON ? `${s.slice(0, MAX_REASON - 1)}…` : s
}

/**
 * The request target (RFC 9112 §3.2): origin-form is forwarded byte for byte; absolute-form is
 * reduced to origin-form and its authority replaces `Host` (§3.2.2) — the proxy still sends it to a
 * pool backend, never to the named host, so it is not an open proxy.
 */

/** @internal A parsed request target. */
export interface Target {
  /** The origin-form path and query to send upstream, or `*`. */
  readonly path: string
  /** The authority of an absolute-form target, which replaces `Host`. */
  readonly authority: string | undefined
}

const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::\d*)?$/

/** @internal True for a syntactically valid `Host` value (`uri-host [":" port]`, possibly empty). */
export function validHost(value: string): boolean {
  return HOST_VALUE.test(value)
}

/**
 * @internal Parses `url` as received; `undefined` when it is neither origin-form, absolute-form
 * (http/https) nor asterisk-form.
 */
export function parseTarget(url: string): Target | undefined {
  if (url.charCodeAt(0) === 47 /* / */) return { path: url, authority: undefined }
  if (url === '*') return { path: url, authority: undefined }
  const m = /^https?:\/\/([^/?#]*)(.*)$/i.exec(url)
  if (m === null) return undefined
  const authority = m[1]!
  const at = authority.lastIndexOf('@')
  if (at >= 0) return undefined // userinfo is forbidden in http(s) URIs (RFC 9110 §4.2.4)
  if (!validHost(authority)) return undefined
  let rest = m[2]!
  if (rest.charCodeAt(0) !== 47) rest = `/${rest}`
  return { path: rest, authority }
}

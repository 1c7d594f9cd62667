/**
 * Responses the gateway writes itself: error statuses (plain text, with `Retry-After` on 503 and
 * `Connection: close` after a refused request), and the `OPTIONS` / `TRACE` answers of RFC 9110
 * §7.6.2 when `Max-Forwards` reaches zero.
 */
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http'
import type { ProxyError } from './errors.js'

/** Methods the gateway forwards; listed in `Allow` when it answers `OPTIONS` itself. */
export const ALLOW = 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE'

/** Request fields a TRACE answer never reflects (RFC 9110 §9.3.8: they may hold credentials). */
const SENSITIVE = new Set(['authorization', 'cookie', 'proxy-authorization', 'x-api-key'])

/** @internal Writes the default answer for `error` (when the response has not started). */
export function writeError(res: ServerResponse, error: ProxyError): void {
  const body = `${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\n`
  const headers: string[] = [
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'cache-control',
    'no-store',
  ]
  if (error.retryAfterSeconds !== undefined) headers.push('retry-after', String(error.retryAfterSeconds))
  if (error.status === 400 || error.status === 501) headers.push('connection', 'close')
  res.writeHead(error.status, headers)
  res.end(body)
}

/** @internal Answers `OPTIONS` with `Max-Forwards: 0` (or `OPTIONS *`) on behalf of the origin. */
export function answerOptions(res: ServerResponse): void {
  res.writeHead(200, ['allow', ALLOW, 'content-length', '0'])
  res.end()
}

/** @internal Answers `TRACE` with `Max-Forwards: 0`: the request as received, as `message/http`. */
export function answerTrace(req: IncomingMessage, res: ServerResponse): void {
  let body = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2)
    if (!SENSITIVE.has(raw[i]!.toLowerCase())) body += `${raw[i]}: ${raw[i + 1]}\r\n`
  body += '\r\n'
  res.writeHead(200, ['content-type', 'message/http', 'content-length', String(Buffer.byteLength(body))])
  res.end(body)
}

/**
 * @internal Forwards a 1xx informational response (102, 103 …) to the client as it comes, before
 * the final head. Not sent to HTTP/1.0 clients, which cannot receive them (RFC 9110 §15.2).
 */
export function writeInformational(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  statusText: string,
  headers: readonly string[],
): void {
  if (res.headersSent || res.socket === null || (req.httpVersionMajor === 1 && req.httpVersionMinor === 0))
    return
  let head = `HTTP/1.1 ${status} ${statusText || STATUS_CODES[status] || 'Informational'}\r\n`
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`
  const raw = (res as unknown as { _writeRaw?: (data: string, encoding: string) => void })._writeRaw
  if (typeof raw === 'function') raw.call(res, `${head}\r\n`, 'latin1')
  else res.socket.write(`${head}\r\n`, 'latin1')
}

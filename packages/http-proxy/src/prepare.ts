/**
 * The phases of a request before a backend is chosen: `onRequest` (may answer it), the request
 * target, the upstream head (with the Host and framing checks), the gateway's own answers to
 * `OPTIONS` / `TRACE` at `Max-Forwards: 0`, and `onUpstreamRequest`.
 */
import { badRequestError, hookError } from './errors.js'
import type { ProxyExchange } from './exchange.js'
import { Stage } from './exchange-context.js'
import { answerOptions, answerTrace } from './local-answers.js'
import { buildRequestHead, UNSUPPORTED_CODING } from './request-head.js'
import { parseTarget } from './request-target.js'

/**
 * @internal The phases before a backend is chosen: `onRequest`, validation of the target and the
 * head, local answers (`OPTIONS`/`TRACE` at `Max-Forwards: 0`), `onUpstreamRequest`. False when
 * the request was answered (or refused) here.
 */
export function prepareRequest(x: ProxyExchange): boolean {
  const { req, res } = x
  const core = x.core
  const hooks = core.config.hooks
  x.follow()
  if (hooks.onRequest !== undefined) {
    let answered: boolean | undefined
    try {
      answered = hooks.onRequest(x) === true
    } catch (err) {
      x.fail(hookError('onRequest', err))
      return false
    }
    if (answered) {
      x.stage = Stage.Done
      return false
    }
  }
  const url = req.url ?? '/'
  let authority: string | undefined
  if (url.charCodeAt(0) === 47) x.path = url
  else {
    const t = parseTarget(url)
    if (t === undefined) {
      x.fail(badRequestError('Invalid request target'))
      return false
    }
    x.path = t.path
    authority = t.authority
  }
  const bad = buildRequestHead(req, core.config, authority, x.peerAddress, x)
  if (bad !== undefined) {
    x.fail(badRequestError(bad, bad === UNSUPPORTED_CODING ? 501 : 400))
    return false
  }
  const method = req.method
  if (method === 'OPTIONS' && (x.maxForwards === 0 || x.path === '*')) {
    answerOptions(res)
    x.stage = Stage.Done
    return false
  }
  if (method === 'TRACE' && x.maxForwards === 0) {
    answerTrace(req, res)
    x.stage = Stage.Done
    return false
  }
  if (x.path === '*') {
    x.fail(badRequestError('Asterisk-form is only allowed for OPTIONS'))
    return false
  }
  if (hooks.onUpstreamRequest !== undefined) {
    try {
      hooks.onUpstreamRequest(x, x.upstreamHeaders)
    } catch (err) {
      x.fail(hookError('onUpstreamRequest', err))
      return false
    }
  }
  return true
}

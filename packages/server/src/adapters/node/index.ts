import type { IncomingMessage, ServerResponse } from 'node:http'
import { checkOptions, optionNames, optionsError, splitTarget } from '@sigil/core/internal'
import { describePlaintext, isPromise, type Verified, type VerifyContext } from '../../internal/incoming.js'
import { incomingFromNode, type NodeVerifyOptions, sendProblem } from '../../internal/node-http.js'
import { VERIFY_CONTEXT_NAMES } from '../../internal/option-names.js'
import type { VerifyOptions } from '../../internal/options.js'
import { type ExemptRule, exemptMatcher } from '../../internal/route-requirements.js'
import { type SignResponseOptions, signNodeResponse } from '../../internal/sign-response.js'
import { recordUnbuilt } from '../../internal/telemetry.js'
import { type Verifier, verifyNow } from '../../internal/verifier.js'
import { verifierFor } from '../../internal/verify.js'

/**
 * Verify a `node:http` request: the path is read from the raw target (never decoded), the body is
 * streamed through the digest under the size limit. With `retainBody` (default) the bytes are on
 * `verified.body`, since the stream has been consumed.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * import { verifyNodeRequest, sendProblem } from '@sigil/server/node'
 * const options = { keys: { k_partner_1: process.env.PARTNER_SECRET! } }
 * createServer(async (req, res) => {
 *   try {
 *     const { principal, body } = await verifyNodeRequest(req, options)
 *     res.end(`hello ${principal}`)
 *   } catch (e) {
 *     sendProblem(res, e)
 *   }
 * })
 * ```
 */
export function verifyNodeRequest(
  req: IncomingMessage,
  options: VerifyOptions | Verifier,
  context?: VerifyContext & NodeVerifyOptions,
): Promise<Verified> {
  const verifier = verifierFor(options)
  try {
    checkOptions('verify context', context, NODE_CONTEXT_NAMES)
    const verified = verifyNow(verifier, incomingFromNode(req, verifier, context), context)
    return isPromise(verified) ? verified : Promise.resolve(verified)
  } catch (e) {
    recordUnbuilt(verifier.config, req.method, e, context?.route)
    return Promise.reject(e)
  }
}

/** Options of {@link withSigil}. */
export interface WithSigilOptions {
  /** Sign every response to a verified request (SPEC §5); an object sets tag, label or digest. Default off. */
  signResponses?: boolean | Omit<SignResponseOptions, 'verifier'>
  /** Scopes every request to this listener must hold, checked in SPEC §2 order (403 `SCOPE_DENIED`). */
  requiredScopes?: readonly string[]
  /**
   * Routes that skip verification, matched against the raw path (e.g. `['/healthz']`), as in every
   * adapter: the handler answers them, with `verified` undefined.
   */
  exempt?: ExemptRule | readonly ExemptRule[]
}

const WITH_SIGIL_OPTION_NAMES = optionNames<WithSigilOptions>({ signResponses: true, requiredScopes: true, exempt: true })
const SIGN_RESPONSE_NAMES = optionNames<Omit<SignResponseOptions, 'verifier'>>({
  tag: true,
  label: true,
  digestAlgorithm: true,
  encryptResponses: true,
})
const NODE_CONTEXT_NAMES = [...VERIFY_CONTEXT_NAMES, ...optionNames<NodeVerifyOptions>({ target: true, body: true })]

/**
 * A `node:http` request listener that verifies first, then calls `handler` with the result
 * (`undefined` for an exempt route, as `req.sigil` is in the other adapters).
 *
 * @example
 * ```ts
 * createServer(withSigil({ keys }, (req, res, verified) => res.end(verified?.principal ?? 'ok'), { exempt: ['/healthz'] }))
 * ```
 */
export function withSigil(
  options: VerifyOptions | Verifier,
  handler: (req: IncomingMessage, res: ServerResponse, verified: Verified | undefined) => void | Promise<void>,
  adapter: WithSigilOptions = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  checkOptions('adapter options', adapter, WITH_SIGIL_OPTION_NAMES, { publicAuthority: 'authority' })
  if (typeof adapter.signResponses === 'object')
    checkOptions('adapter options', adapter.signResponses, SIGN_RESPONSE_NAMES, undefined, 'signResponses')
  const verifier = verifierFor(options)
  const signing = adapter.signResponses ? { ...(adapter.signResponses === true ? {} : adapter.signResponses), verifier } : undefined
  const exempt = adapter.exempt as unknown
  if (typeof exempt === 'object' && exempt !== null && !Array.isArray(exempt) && !(exempt instanceof RegExp)) {
    throw optionsError(
      'adapter options',
      'exempt',
      '`exempt: { routes, handler }` was replaced by `exempt: routes` (as in every adapter); the handler answers exempt routes with `verified` undefined',
    )
  }
  const isExempt = exemptMatcher(adapter.exempt)
  const context = adapter.requiredScopes ? { requiredScopes: adapter.requiredScopes } : undefined
  return async (req, res) => {
    if (adapter.exempt !== undefined && isExempt(req.method ?? 'GET', splitTarget(req.url ?? '/').path)) {
      await handler(req, res, undefined)
      return
    }
    let verified: Verified
    try {
      const answer = verifyNow(verifier, incomingFromNode(req, verifier), context)
      verified = isPromise(answer) ? await answer : answer
    } catch (e) {
      recordUnbuilt(verifier.config, req.method, e)
      sendProblem(res, e)
      return
    }
    describePlaintext(req.headers, verified)
    if (signing) signNodeResponse(res, verified, req, signing)
    await handler(req, res, verified)
  }
}

export { incomingFromNode, type NodeVerifyOptions, nodeHeaders, sendProblem } from '../../internal/node-http.js'
export { checkScopes, type ExemptRule } from '../../internal/route-requirements.js'
export { type SignResponseOptions, signNodeResponse } from '../../internal/sign-response.js'
export type { Verified, VerifyContext, VerifyOptions }

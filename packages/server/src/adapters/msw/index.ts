import { ConfigurationError } from '@sigil/core'
import { checkOptions, renamedMessage } from '@sigil/core/internal'
import type { DefaultBodyType, HttpResponseResolver, PathParams } from 'msw'
import { plaintextRequest } from '../../internal/encrypted-body.js'
import type { Verified, VerifyContext } from '../../internal/incoming.js'
import { VERIFY_CONTEXT_NAMES } from '../../internal/option-names.js'
import type { VerifyOptions } from '../../internal/options.js'
import { problemResponse } from '../../internal/problem.js'
import type { Verifier } from '../../internal/verifier.js'
import { verifierFor, verify } from '../../internal/verify.js'

/**
 * Wrap an msw resolver so it only answers correctly signed requests; others get Sigil's
 * problem+json rejection. The resolver receives the verification result as `sigil`. Apps use it
 * to test their own signed clients.
 *
 * @example
 * ```ts
 * import { http, HttpResponse } from 'msw'
 * import { withSigil } from '@sigil/server/msw'
 * const handlers = [
 *   http.post('https://api.example.com/v1/orders', withSigil({ keys }, ({ sigil }) => HttpResponse.json({ by: sigil.principal }))),
 * ]
 * ```
 */
export function withSigil<Params extends PathParams, Body extends DefaultBodyType>(
  options: VerifyOptions | Verifier,
  resolver: HttpResponseResolver<Params, Body, DefaultBodyType> extends (info: infer I) => infer R
    ? (info: I & { sigil: Verified }) => R
    : never,
  context?: VerifyContext,
): HttpResponseResolver<Params, Body, DefaultBodyType> {
  checkOptions('verify context', context, VERIFY_CONTEXT_NAMES)
  const verifier = verifierFor(options)
  return (async (info: Parameters<HttpResponseResolver<Params, Body, DefaultBodyType>>[0]) => {
    let sigil: Verified
    try {
      sigil = await verify(info.request, verifier, context)
    } catch (e) {
      return problemResponse(e)
    }
    // SPEC §8: an encrypted body reaches the resolver as its plaintext.
    return resolver({ ...info, request: plaintextRequest(info.request, sigil), sigil })
  }) as HttpResponseResolver<Params, Body, DefaultBodyType>
}

/**
 * The name before `withSigil` (one word for "wrap a handler so it only sees signed requests", as
 * in `@sigil/server/node`). Throws, naming the new one.
 *
 * @deprecated Use {@link withSigil}.
 * @example
 * ```ts
 * withSignature({ keys }, resolver) // ConfigurationError: `withSignature` was renamed `withSigil`
 * ```
 */
export function withSignature(..._args: unknown[]): never {
  throw new ConfigurationError(renamedMessage('withSignature', 'withSigil'))
}

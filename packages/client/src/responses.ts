import type { SignerOptions } from './options.js'
import { type VerifyResponseOptions, verifyResponse } from './verify-response.js'

export { type VerifyResponseOptions, verifyResponse } from './verify-response.js'

/**
 * Checks the responses of a signed fetch: what `createSignedFetch({ verifyResponses })` takes.
 * Made by {@link responseVerifier}; a separate entry point, so apps that do not verify responses do
 * not ship the parser and the streaming hash it needs.
 */
export interface ResponseVerifier {
  /** Resolve with the response once verified; reject with `ResponseVerificationError`. */
  verify(response: Response, request: Request, credentials: SignerOptions): Promise<Response>
}

/**
 * Require responses signed by the server (SPEC §5) on a signed fetch: see {@link verifyResponse}
 * for the checks and the errors.
 *
 * @example
 * ```ts
 * import { createSignedFetch } from '@sigil/client'
 * import { responseVerifier } from '@sigil/client/responses'
 * const api = createSignedFetch({ token: process.env.SIGIL_TOKEN!, verifyResponses: responseVerifier({ maxBodyBytes: 1 << 20 }) })
 * ```
 */
export function responseVerifier(options: VerifyResponseOptions = {}): ResponseVerifier {
  return { verify: (response, request, credentials) => verifyResponse(response, request, credentials, options) }
}

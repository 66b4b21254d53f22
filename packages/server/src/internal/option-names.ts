import { optionNames } from '@sigil/core/internal'
import type { VerifyContext } from './incoming.js'
import type { SignResponseOptions } from './sign-response.js'
import type { VerifyRequestContext } from './verify.js'

// The option names of the per-call objects, for `checkOptions` (@sigil/core/internal). Each list
// is checked against its type: an option added to the type and not here fails to compile, so it
// is never refused as unknown.

/** {@link VerifyContext}: `msw`'s `withSigil`, `verifyNodeRequest` (plus its own). */
export const VERIFY_CONTEXT_NAMES = optionNames<VerifyContext>({
  requiredScopes: true,
  presigned: true,
  testKeys: true,
  route: true,
  encryptedBodies: true,
})

/** {@link VerifyRequestContext}: `verify(request, options, context)`. */
export const VERIFY_REQUEST_CONTEXT_NAMES = optionNames<VerifyRequestContext>({
  requiredScopes: true,
  presigned: true,
  consumeBody: true,
  testKeys: true,
  route: true,
  encryptedBodies: true,
})

/** {@link SignResponseOptions}. */
export const SIGN_RESPONSE_NAMES = optionNames<SignResponseOptions>({
  verifier: true,
  tag: true,
  label: true,
  digestAlgorithm: true,
  encryptResponses: true,
})

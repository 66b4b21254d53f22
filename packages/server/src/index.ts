export { ConfigurationError, SigilError, type SigilErrorCode, VerificationError } from '@sigil/core'
export type { SigilOptions } from './adapter-options.js'
export type { IncomingRequest, Verified, VerifyContext } from './incoming.js'
export { createMemoryNonceStore, type MemoryNonceStoreOptions } from './memory-nonce-store.js'
export type { VerifierConfig, VerifyOptions } from './options.js'
export type { PresignedOptions } from './presigned.js'
export {
  type ErrorReporter,
  type Problem,
  type ProblemBody,
  type ProblemOptions,
  problemResponse,
  rateLimitHeaders,
  toProblem,
} from './problem.js'
// createMemoryRateLimiter lives in `@sigil/server/rate-limit` (it loads rate-limiter-flexible).
export { createRateLimiterWith, type RateLimitDecision, type RateLimiter, type RateLimitPolicy } from './rate-limiter.js'
export { checkScopes, type ExemptRule, hasScope } from './route-requirements.js'
export {
  type ResponseSignatureHeaders,
  responseSignatureHeaders,
  type SignResponseOptions,
  signNodeResponse,
  signResponse,
} from './sign-response.js'
export { type SecretInput, staticKeys } from './static-keys.js'
export type { UsageEvent, UsageRecorder } from './usage.js'
export { createVerifier, type ExplainStep, type Explanation, VERIFY_STEPS, type Verifier, type VerifyStep } from './verifier.js'
export { verify } from './verify.js'
// Plumbing (compileAdapter, compileOptions, incomingFromRequest, verifierFor, …): @sigil/server/internal

export { ConfigurationError, SigilError, type SigilErrorCode, VerificationError } from '@sigil/core'
export { type CompiledAdapter, compileAdapter, type SigilOptions } from './adapter-options.js'
export { resolveOrigin } from './authority.js'
export { declaredBody, type IncomingRequest, type Verified, type VerifyContext } from './incoming.js'
export { createMemoryNonceStore, type MemoryNonceStoreOptions } from './memory-nonce-store.js'
export { compileOptions, type VerifierConfig, type VerifyOptions } from './options.js'
export { type PresignedOptions, presignedView } from './presigned.js'
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
export { checkScopes, type ExemptRule, exemptMatcher, hasScope } from './route-requirements.js'
export {
  type ResponseSignatureHeaders,
  responseSignatureHeaders,
  type SignResponseOptions,
  signNodeResponse,
  signResponse,
} from './sign-response.js'
export { type SecretInput, staticKeys } from './static-keys.js'
export { recordUsage, type UsageEvent, type UsageRecorder } from './usage.js'
export { createVerifier, type ExplainStep, type Explanation, VERIFY_STEPS, type Verifier, type VerifyStep } from './verifier.js'
export { incomingFromRequest, verifierFor, verify } from './verify.js'

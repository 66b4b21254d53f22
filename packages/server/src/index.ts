export { ConfigurationError, SigilError, type SigilErrorCode, VerificationError } from '@sigil/core'
export type { SigilOptions } from './internal/adapter-options.js'
export type { IncomingRequest, Verified, VerifyContext } from './internal/incoming.js'
export { createMemoryNonceStore, type MemoryNonceStoreOptions } from './internal/memory-nonce-store.js'
export type { VerifyOptions } from './internal/options.js'
export type { PresignedOptions } from './internal/presigned.js'
export {
  type ErrorReporter,
  type Problem,
  type ProblemBody,
  type ProblemOptions,
  problemResponse,
  rateLimitHeaders,
  toProblem,
} from './internal/problem.js'
// createMemoryRateLimiter lives in `@sigil/server/rate-limit`.
export { createRateLimiterWith, type RateLimitDecision, type RateLimiter, type RateLimitPolicy } from './internal/rate-limiter.js'
export { checkScopes, type ExemptRule, hasScope } from './internal/route-requirements.js'
export {
  type ResponseSignatureHeaders,
  responseSignatureHeaders,
  type SignResponseOptions,
  signNodeResponse,
  signResponse,
} from './internal/sign-response.js'
export { type SecretInput, staticKeys } from './internal/static-keys.js'
export type { KeyClass, VerificationEvent, VerificationTelemetry } from './internal/telemetry.js'
export type { UsageEvent, UsageRecorder } from './internal/usage.js'
export { createVerifier, type ExplainStep, type Explanation, VERIFY_STEPS, type Verifier, type VerifyStep } from './internal/verifier.js'
export { type VerifyRequestContext, verify } from './internal/verify.js'
export type { TestKeyExplanation } from './internal/verify-steps.js'

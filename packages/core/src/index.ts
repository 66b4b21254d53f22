// `@sigil/core`: what an application or another-language port needs from the shared core — the
// errors every package throws, the key and token model, and the signing primitives (signature
// base, Content-Digest, signMessage). Structured fields are `@sigil/core/structured-fields`;
// byte helpers, constants and plumbing are `@sigil/core/internal` (Sigil's own packages, no semver).
export { type Component, component } from './components.js'
export { checkContentDigest, contentDigest, type DigestAlgorithm } from './content-digest.js'
export type { SecretInput } from './encoding.js'
export { ConfigurationError, SigilError, type SigilErrorCode, statusOf, VerificationError } from './errors.js'
export type { Hmac } from './hmac.js'
export { type Message, type RequestMessage, type ResponseMessage, requestFromFetch } from './message.js'
export { type ResponseVerificationCode, ResponseVerificationError } from './response-signature.js'
export { DEFAULT_COMPONENTS, type SignedHeaders, type SignMessageOptions, signMessage } from './sign.js'
export { signatureBase } from './signature-base.js'
export { DEFAULT_SIGNATURE_LIMITS, parseSignatures, type SignatureEntry, type SignatureLimits } from './signature-input.js'
export {
  type FormatTokenOptions,
  formatToken,
  isKeyId,
  parseToken,
  TEST_TOKEN_PREFIX,
  TOKEN_PREFIX,
  type TokenParts,
  tokenParts,
} from './token.js'
export type { KeyRecord, KeyResolver, KeyStatus, NonceStore, RateLimits } from './types.js'

export { type Component, component, DERIVED_COMPONENTS, fromItem } from './components.js'
export {
  checkContentDigest,
  contentDigest,
  contentDigestMatches,
  createDigester,
  createHasher,
  DIGEST_ALGORITHMS,
  type DigestAlgorithm,
  type Digester,
  type DigestStreamOptions,
  digestBytes,
  digestStream,
  formatContentDigest,
  type Hasher,
  parseContentDigest,
  type StreamDigest,
} from './content-digest.js'
export {
  concatBytes,
  decodeSecret,
  fromBase64,
  fromBase64Url,
  MIN_SECRET_BYTES,
  randomBytes,
  SECRET_FORMS,
  type SecretInput,
  secretBytes,
  toBase64,
  toBase64Url,
  toBytes,
  utf8,
} from './encoding.js'
export {
  ComponentError,
  ConfigurationError,
  ERROR_STATUS,
  SigilError,
  type SigilErrorCode,
  statusOf,
  VerificationError,
} from './errors.js'
export { type Hmac, hmacSha256, timingSafeEqual, webHmacSha256 } from './hmac.js'
export {
  type HeaderSource,
  isResponse,
  type Message,
  normalizeAuthority,
  type RequestMessage,
  type ResponseMessage,
  requestFromFetch,
  requestFromUrl,
  splitTarget,
} from './message.js'
export {
  encodeQueryValue,
  PRESIGNED_DEFAULT_LIFETIME_S,
  PRESIGNED_DIGEST_PARAM,
  PRESIGNED_INPUT_PARAM,
  PRESIGNED_MAX_BYTES_PARAM,
  PRESIGNED_MAX_LIFETIME_S,
  PRESIGNED_ONCE_PARAM,
  PRESIGNED_SIGNATURE_PARAM,
  PRESIGNED_TAG,
  type PresignedQuery,
  splitPresignedQuery,
} from './presigned-url.js'
export { queryParam } from './query-param.js'
export {
  RESPONSE_TAG,
  type ResponseVerificationCode,
  ResponseVerificationError,
  responseComponents,
  type SignResponseMessageOptions,
  signResponseMessage,
  type VerifyResponseMessageOptions,
  verifyResponseMessage,
} from './response-signature.js'
export {
  createNonce,
  DEFAULT_COMPONENTS,
  type SignedHeaders,
  type SignMessageOptions,
  signMessage,
  signMessageSync,
  verifyMessageSignature,
} from './sign.js'
export { componentValue, STRUCTURED_FIELD_TYPES, signatureBase } from './signature-base.js'
export {
  DEFAULT_SIGNATURE_LIMITS,
  parseSignatures,
  type SignatureEntry,
  type SignatureLimits,
  type SignatureParams,
  serializeSignatureParams,
} from './signature-input.js'
export {
  type BareItem,
  Decimal,
  type Dictionary,
  DisplayString,
  type InnerList,
  type Item,
  isInnerList,
  type List,
  type Parameters,
  parseDictionary,
  parseDictionaryLimited,
  parseItemField,
  parseList,
  StructuredFieldError,
  StructuredFieldSerializeError,
  serializeDictionary,
  serializeInnerList,
  serializeItem,
  serializeList,
  Token,
} from './structured-fields.js'
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

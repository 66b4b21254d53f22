/**
 * `@sigil/core/internal`: plumbing shared by Sigil's own packages: the options toolkit, byte
 * helpers, wire constants and the message/response machinery the other packages build on.
 * **Not covered by semver** and not part of the documented API: it changes whenever the packages
 * need it to. Applications use `@sigil/core` and the other packages' documented entries.
 */

export { DERIVED_COMPONENTS, fromItem } from '../components.js'
export {
  contentDigestMatches,
  createDigester,
  createHasher,
  DIGEST_ALGORITHMS,
  type Digester,
  type DigestStreamOptions,
  digestBytes,
  digestStream,
  formatContentDigest,
  type Hasher,
  parseContentDigest,
  type StreamDigest,
} from '../content-digest.js'
export {
  createEceDecrypter,
  createEceEncrypter,
  ECE_MAX_RECORD_SIZE,
  ECE_RECORD_SIZE,
  type EceDecrypter,
  type EceDecryptOptions,
  type EceEncrypter,
  type EceEncryptOptions,
} from '../ece.js'
export { deriveEncryptionKey, ECE_CODING, ECE_KEY_INFO, hkdfSha256 } from '../ece-key.js'
export { decryptBytes, decryptChunks, decryptStream, encryptBytes, encryptChunks, encryptStream } from '../ece-stream.js'
export {
  concatBytes,
  decodeSecret,
  fromBase64,
  fromBase64Url,
  MIN_SECRET_BYTES,
  randomBytes,
  SECRET_FORMS,
  secretBytes,
  toBase64,
  toBase64Url,
  toBytes,
  utf8,
} from '../encoding.js'
export { ComponentError, ERROR_STATUS } from '../errors.js'
export { hmacSha256, timingSafeEqual, webHmacSha256 } from '../hmac.js'
export { keyStatusAt } from '../key-status.js'
export {
  type HeaderSource,
  headersFromGetter,
  headersFromRecord,
  isResponse,
  normalizeAuthority,
  requestFromUrl,
  splitTarget,
} from '../message.js'
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
} from '../presigned-url.js'
export { queryParam } from '../query-param.js'
export {
  RESPONSE_TAG,
  responseComponents,
  type SignResponseMessageOptions,
  signResponseMessage,
  type VerifyResponseMessageOptions,
  verifyResponseMessage,
} from '../response-signature.js'
export { createNonce, signMessageSync, verifyMessageSignature } from '../sign.js'
export { componentValue, STRUCTURED_FIELD_TYPES } from '../signature-base.js'
export { type SignatureParams, serializeSignatureParams } from '../signature-input.js'
export { parseDictionaryLimited } from '../structured-fields.js'
export {
  algorithmOf,
  baseOf,
  checkProfile,
  DEFAULT_ALGORITHM,
  type Profile,
  REQUEST_REFUSALS,
  type SignatureAlgorithm,
  selectSignature,
  verifyEntry,
} from '../verify-signature.js'
export {
  checkOptions,
  closestName,
  describeZodError,
  editDistance,
  type OptionsIssue,
  optionNames,
  optionsError,
  type Rename,
  type Renames,
  renamedMessage,
  schemaKeys,
  unknownMessage,
  zodOptionsError,
} from './options.js'
export { rateLimitsProblem } from './rate-limits.js'

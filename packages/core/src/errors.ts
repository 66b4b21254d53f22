/**
 * Stable error codes (SPEC §3). Callers `switch` on these; messages may change, codes do not.
 */
export const ERROR_STATUS = {
  SIGNATURE_MISSING: 401,
  SIGNATURE_MALFORMED: 401,
  PROFILE_VIOLATION: 401,
  CLOCK_SKEW: 401,
  SIGNATURE_EXPIRED: 401,
  KEY_UNKNOWN: 401,
  KEY_REVOKED: 401,
  KEY_EXPIRED: 401,
  KEY_CONFLICT: 409,
  SIGNATURE_INVALID: 401,
  NONCE_REPLAYED: 401,
  NONCE_STORE_RESET: 401,
  DIGEST_MISSING: 401,
  DIGEST_MISMATCH: 401,
  BODY_TOO_LARGE: 413,
  /** The body did not arrive within the verifier's `bodyTimeoutMs` (slow drip). */
  BODY_TIMEOUT: 408,
  /** The client closed the connection before its body ended (nobody reads this answer). */
  BODY_INCOMPLETE: 400,
  /** A body with a Content-Encoding the server cannot verify as sent (a parser decoded it first). */
  CONTENT_ENCODING_UNSUPPORTED: 415,
  /** A plaintext body where the route requires an `aes128gcm` body (SPEC §8); with `Accept-Encoding: aes128gcm`. */
  ENCRYPTION_REQUIRED: 415,
  /** An `aes128gcm` body (SPEC §8) that does not decrypt: a record fails its tag, is cut short, swapped, or under another key. */
  BODY_DECRYPTION_FAILED: 400,
  SCOPE_DENIED: 403,
  RATE_LIMITED: 429,
  QUOTA_EXCEEDED: 429,
  STORE_UNAVAILABLE: 503,
  RESPONSE_SIGNATURE_MISSING: 502,
  RESPONSE_SIGNATURE_INVALID: 502,
  RESPONSE_TOO_LARGE: 502,
  COMPONENT_UNRESOLVABLE: 400,
  CONFIGURATION_INVALID: 500,
  TOKEN_INVALID: 400,
  /** Admin only: the actor may not issue keys for that principal. */
  PRINCIPAL_NOT_ALLOWED: 403,
  /** Admin only: a scope the actor may not grant (create, rotate, restore, a scope added by an edit). */
  SCOPE_NOT_ALLOWED: 403,
  /** Admin only: a later expiry than the key replaced or edited, by an actor that may not extend it. */
  EXPIRY_NOT_ALLOWED: 403,
  /** Admin only: rate limits or metadata changed by an actor that may not. */
  LIMITS_NOT_ALLOWED: 403,
  /** Admin only: the principal's working keys (grace included) would pass its count. */
  KEY_LIMIT: 409,
  /** A test key (SPEC §4) on a verifier or route that refuses test keys (`testKeys: false`). */
  TEST_KEY_REFUSED: 403,
  /**
   * A good signature by a key whose stored record cannot be used as it is (e.g. rate limits in a
   * shape no release reads): permanent until the operator fixes the row, so a 403 — never a 503
   * with `Retry-After`, which clients retry for ever. `onError` names the key and field.
   */
  KEY_RECORD_INVALID: 403,
} as const

/** Every code a Sigil error can carry. */
export type SigilErrorCode = keyof typeof ERROR_STATUS

/** The HTTP status that goes with a code. */
export function statusOf(code: SigilErrorCode): number {
  return ERROR_STATUS[code]
}

/**
 * Base class of the errors that carry a stable `code` (SPEC §3): every verification, configuration
 * and key-store refusal. Parse errors of the structured-field grammar (`StructuredFieldError`,
 * `StructuredFieldSerializeError`), the SQLite driver's, the admin API's and the CLI's have their
 * own classes. Messages never contain secrets, MACs or raw header values.
 *
 * @example
 * ```ts
 * try { await verify(request, options) } catch (e) {
 *   if (e instanceof SigilError && e.code === 'CLOCK_SKEW') { ... }
 * }
 * ```
 */
export class SigilError extends Error {
  readonly code: SigilErrorCode
  readonly status: number
  constructor(code: SigilErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.status = statusOf(code)
  }
}

/** A request (or response) was rejected by verification. */
export class VerificationError extends SigilError {
  /** Response headers the rejection calls for (`Date` on `CLOCK_SKEW`, `RateLimit-*`/`Retry-After` on 429). */
  declare headers?: Record<string, string>
  /**
   * The server's signature base, only with the verifier's `debug` option (never in production).
   * Not enumerable, so logging or serializing the error does not carry it.
   */
  declare readonly signatureBase?: string
}

/** The caller configured Sigil wrongly; `cause` carries the validation error. */
export class ConfigurationError extends SigilError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIGURATION_INVALID', message, options)
  }
}

/** A component named by a signature cannot be derived from the message (RFC 9421 §2.5). */
export class ComponentError extends SigilError {
  constructor(message: string) {
    super('COMPONENT_UNRESOLVABLE', message)
  }
}

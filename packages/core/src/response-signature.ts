import { type Component, component } from './components.js'
import { VerificationError } from './errors.js'
import { type Hmac, hmacSha256 } from './hmac.js'
import type { ResponseMessage } from './message.js'
import { type SignedHeaders, signMessage } from './sign.js'
import { DEFAULT_SIGNATURE_LIMITS, parseSignatures, type SignatureEntry, type SignatureLimits } from './signature-input.js'
import {
  ALGORITHMS,
  baseOf,
  checkProfile,
  DEFAULT_ALGORITHM,
  type Refusals,
  refuse,
  selectSignature,
  verifyEntry,
} from './verify-signature.js'

/** The `tag` of a Sigil response signature (SPEC §5). */
export const RESPONSE_TAG = 'sigil-response'

/**
 * Why a client refused a response: its signature is missing, it does not verify, or its body is
 * over the client's limit and so was not checked.
 */
export type ResponseVerificationCode = 'RESPONSE_SIGNATURE_MISSING' | 'RESPONSE_SIGNATURE_INVALID' | 'RESPONSE_TOO_LARGE'

/**
 * A signed response was required (SPEC §5) and the response failed the check. Status 502: the
 * upstream answer cannot be trusted. `response`, when set, is the unverified response, for logs.
 *
 * @example
 * ```ts
 * try { await api('https://api.example.com/v1/orders') } catch (e) {
 *   if (e instanceof ResponseVerificationError && e.code === 'RESPONSE_SIGNATURE_MISSING') { ... }
 * }
 * ```
 */
export class ResponseVerificationError extends VerificationError {
  declare readonly code: ResponseVerificationCode
  /** The response that failed, untrusted. */
  response?: unknown
  constructor(code: ResponseVerificationCode, message: string, options?: { cause?: unknown; response?: unknown }) {
    super(code, message, options)
    if (options?.response !== undefined) this.response = options.response
  }
}

/**
 * What a Sigil response signature covers (SPEC §5): `@status`, `content-type` when the response
 * has one, `content-digest`, and the request's signature `"signature";req;key="<label>"`
 * (RFC 9421 §2.4), which binds the response to the one request it answers.
 *
 * @example
 * ```ts
 * responseComponents(true, 'sig1').map((c) => c.id)
 * // ['"@status"', '"content-type"', '"content-digest"', '"signature";req;key="sig1"']
 * ```
 */
export function responseComponents(hasContentType: boolean, requestLabel: string): Component[] {
  return [
    component('@status'),
    ...(hasContentType ? [component('content-type')] : []),
    component('content-digest'),
    component('signature', { req: true, key: requestLabel }),
  ]
}

/** How to sign a response view. */
export interface SignResponseMessageOptions {
  keyId: string
  secret: Uint8Array
  /** Seconds since the epoch. */
  created: number
  /** Label of the request's signature that the response covers (the verified `label`). */
  requestLabel: string
  /** Default {@link RESPONSE_TAG}. */
  tag?: string
  /** Label of the response signature. Default `sig1`. */
  label?: string
  hmac?: Hmac
}

/**
 * Sign a response view (with `request` set, and `Content-Digest` already in its headers).
 * Freshness comes from the request signature it covers, so there is no nonce.
 *
 * @example
 * ```ts
 * const { signatureInput, signature } = await signResponseMessage(
 *   { status: 200, headers, request: requestView },
 *   { keyId: 'k1', secret, created: Math.floor(Date.now() / 1000), requestLabel: 'sig1' },
 * )
 * ```
 */
export function signResponseMessage(response: ResponseMessage, o: SignResponseMessageOptions): Promise<SignedHeaders> {
  return signMessage(response, {
    keyId: o.keyId,
    secret: o.secret,
    components: responseComponents(response.headers.get('content-type') !== null, o.requestLabel),
    created: o.created,
    nonce: false,
    tag: o.tag ?? RESPONSE_TAG,
    label: o.label ?? 'sig1',
    ...(o.hmac ? { hmac: o.hmac } : {}),
  })
}

/** How to verify a response view. */
export interface VerifyResponseMessageOptions {
  /** The key the request was signed with; the response must be signed with the same one. */
  keyId: string
  secret: Uint8Array
  requestLabel: string
  tag?: string
  /** Parser limits on the response's Signature and Signature-Input. Default `DEFAULT_SIGNATURE_LIMITS`. */
  signatureLimits?: SignatureLimits
  hmac?: Hmac
}

// A response has two verdicts: no signature of ours (missing), or one that does not hold (invalid).
const RESPONSE_REFUSALS: Refusals = {
  missing: 'RESPONSE_SIGNATURE_MISSING',
  malformed: 'RESPONSE_SIGNATURE_INVALID',
  profile: 'RESPONSE_SIGNATURE_INVALID',
  invalid: 'RESPONSE_SIGNATURE_INVALID',
  error: (code, message, cause) =>
    new ResponseVerificationError(code as ResponseVerificationCode, message, cause === undefined ? undefined : { cause }),
}
const invalid = (message: string, cause?: unknown): never => refuse(RESPONSE_REFUSALS, 'RESPONSE_SIGNATURE_INVALID', message, cause)

/**
 * Verify a response's signature (SPEC §5): exactly one signature with the response tag, made
 * with the request's key, covering at least {@link responseComponents}, with a good MAC. The
 * body itself is not read here: compare its digest with `Content-Digest` (the client does).
 *
 * @example
 * ```ts
 * await verifyResponseMessage({ status: res.status, headers: res.headers, request: requestFromFetch(req) }, {
 *   keyId: 'k1', secret, requestLabel: 'sig1',
 * })
 * ```
 */
export async function verifyResponseMessage(response: ResponseMessage, o: VerifyResponseMessageOptions): Promise<SignatureEntry> {
  const si = response.headers.get('signature-input')
  const sig = response.headers.get('signature')
  if (si === null || sig === null) throw new ResponseVerificationError('RESPONSE_SIGNATURE_MISSING', 'response is not signed')
  let entries: SignatureEntry[] = []
  try {
    entries = parseSignatures(si, sig, o.signatureLimits ?? DEFAULT_SIGNATURE_LIMITS)
  } catch (e) {
    invalid('response signature headers are malformed', e)
  }
  const entry = selectSignature(entries, o.tag ?? RESPONSE_TAG, RESPONSE_REFUSALS)
  const required = responseComponents(response.headers.get('content-type') !== null, o.requestLabel).map((c) => c.id)
  checkProfile(entry, { required, nonce: false }, RESPONSE_REFUSALS)
  // The response is signed with the request's key, so its algorithm is the default one.
  if (entry.params.keyid !== o.keyId) invalid('response is signed with another key')
  const base = baseOf(response, entry, RESPONSE_REFUSALS)
  const algorithm = ALGORITHMS[DEFAULT_ALGORITHM]
  if (!(await verifyEntry(algorithm, o.hmac ?? hmacSha256, o.secret, base, entry))) invalid('response signature does not verify')
  return entry
}

import { type Component, component } from './components.js'
import { VerificationError } from './errors.js'
import { type Hmac, hmacSha256 } from './hmac.js'
import type { ResponseMessage } from './message.js'
import { type SignedHeaders, signMessage } from './sign.js'
import { signatureBase } from './signature-base.js'
import { DEFAULT_SIGNATURE_LIMITS, parseSignatures, type SignatureEntry, type SignatureLimits } from './signature-input.js'

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

const invalid = (message: string, cause?: unknown): never => {
  throw new ResponseVerificationError('RESPONSE_SIGNATURE_INVALID', message, cause === undefined ? undefined : { cause })
}

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
  const tag = o.tag ?? RESPONSE_TAG
  const ours = entries.filter((e) => e.params.tag === tag)
  if (ours.length === 0) throw new ResponseVerificationError('RESPONSE_SIGNATURE_MISSING', 'no response signature carries the expected tag')
  if (ours.length > 1) invalid('more than one response signature carries the expected tag')
  const entry = ours[0] as SignatureEntry
  if (entry.params.keyid !== o.keyId) invalid('response is signed with another key')
  if (entry.params.created === undefined) invalid('response signature has no created')
  if (entry.params.alg !== undefined && entry.params.alg !== 'hmac-sha256') invalid('response signature alg must be hmac-sha256')
  for (const c of responseComponents(response.headers.get('content-type') !== null, o.requestLabel)) {
    if (!entry.components.some((e) => e.id === c.id)) invalid(`response signature must cover ${c.id}`)
  }
  let base = ''
  try {
    base = signatureBase(response, entry.components, entry.paramsValue)
  } catch (e) {
    invalid('a covered response component cannot be derived', e)
  }
  if (!(await (o.hmac ?? hmacSha256).verify(o.secret, base, entry.signature))) invalid('response signature does not verify')
  return entry
}

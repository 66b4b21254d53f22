import { type Component, component } from './components.js'
import { randomBytes, toBase64, toBase64Url } from './encoding.js'
import { ConfigurationError } from './errors.js'
import { type Hmac, hmacSha256 } from './hmac.js'
import type { Message } from './message.js'
import { signatureBase } from './signature-base.js'
import { type SignatureEntry, type SignatureParams, serializeSignatureParams } from './signature-input.js'
import type { BareItem } from './structured-fields.js'

/** What to sign a message with. */
export interface SignMessageOptions {
  keyId: string
  secret: Uint8Array
  components: readonly Component[]
  /** Seconds since the epoch. */
  created: number
  /** Validity window in seconds; sets `expires = created + expiresIn` when given. */
  expiresIn?: number
  /** Defaults to 16 fresh random bytes, base64url. Pass `false` to omit. */
  nonce?: string | false
  /** Defaults to `sigil`. Pass `false` to omit. */
  tag?: string | false
  /** Defaults to `sig1`. */
  label?: string
  /** Emit `alg="hmac-sha256"` (default true). */
  alg?: boolean
  /** Extra parameters, appended after the standard ones. */
  extraParams?: Record<string, BareItem>
  hmac?: Hmac
}

/** The two header members to attach, and the base that was signed (for debugging). */
export interface SignedHeaders {
  signatureInput: string
  signature: string
  base: string
  params: SignatureParams
}

// CSPRNG bytes are drawn 1 KiB at a time (one getRandomValues call per 64 nonces) and every byte
// is handed out once, as node's randomUUID does with its entropy cache.
const NONCE_BYTES = 16
let pool: Uint8Array = new Uint8Array(0)
let poolOffset = 0

/** A fresh nonce: 16 CSPRNG bytes, base64url. */
export function createNonce(): string {
  if (poolOffset + NONCE_BYTES > pool.length) {
    pool = randomBytes(1024)
    poolOffset = 0
  }
  const bytes = pool.subarray(poolOffset, poolOffset + NONCE_BYTES)
  poolOffset += NONCE_BYTES
  return toBase64Url(bytes)
}

/**
 * Sign a message view: builds the signature base and returns the `Signature-Input` and
 * `Signature` values (each `label=...`).
 *
 * @example
 * ```ts
 * const { signatureInput, signature } = await signMessage(view, {
 *   keyId: 'k1', secret, components: [component('@method')], created: Math.floor(Date.now() / 1000),
 * })
 * ```
 */
export async function signMessage(message: Message, o: SignMessageOptions): Promise<SignedHeaders> {
  const { paramsValue, base, params } = prepare(message, o)
  const mac = await (o.hmac ?? hmacSha256).sign(o.secret, base)
  return finish(o, paramsValue, base, params, mac)
}

/**
 * Synchronous {@link signMessage} for sync HMACs (node:crypto), used where the caller cannot
 * await, such as an undici dispatcher interceptor. Throws if the HMAC is asynchronous.
 */
export function signMessageSync(message: Message, o: SignMessageOptions): SignedHeaders {
  const { paramsValue, base, params } = prepare(message, o)
  const mac = (o.hmac ?? hmacSha256).sign(o.secret, base)
  if (!(mac instanceof Uint8Array)) throw new ConfigurationError('signMessageSync needs a synchronous HMAC (node:crypto)')
  return finish(o, paramsValue, base, params, mac)
}

function finish(o: SignMessageOptions, paramsValue: string, base: string, params: SignatureParams, mac: Uint8Array): SignedHeaders {
  const label = o.label ?? 'sig1'
  return { signatureInput: `${label}=${paramsValue}`, signature: `${label}=:${toBase64(mac)}:`, base, params }
}

function prepare(message: Message, o: SignMessageOptions) {
  const standard: SignatureParams & Record<string, BareItem | undefined> = {
    created: o.created,
    expires: o.expiresIn === undefined ? undefined : o.created + o.expiresIn,
    nonce: o.nonce === false ? undefined : (o.nonce ?? createNonce()),
    keyid: o.keyId,
    alg: o.alg === false ? undefined : 'hmac-sha256',
    tag: o.tag === false ? undefined : (o.tag ?? 'sigil'),
  }
  const params = o.extraParams ? { ...standard, ...o.extraParams } : standard
  const paramsValue = serializeSignatureParams(o.components, params)
  return { paramsValue, base: signatureBase(message, o.components, paramsValue), params }
}

/**
 * Check one parsed signature's MAC against a message in constant time. Throws `ComponentError`
 * when a covered component cannot be derived.
 */
export async function verifyMessageSignature(
  message: Message,
  entry: SignatureEntry,
  secret: Uint8Array,
  hmac: Hmac = hmacSha256,
): Promise<{ ok: boolean; base: string }> {
  const base = signatureBase(message, entry.components, entry.paramsValue)
  return { ok: await hmac.verify(secret, base, entry.signature), base }
}

/** The components Sigil covers by default for a request with and without a body (SPEC §1). */
export const DEFAULT_COMPONENTS = Object.freeze({
  bodyless: Object.freeze(['@method', '@authority', '@path', '@query'].map((n) => component(n))),
  withBody: Object.freeze(['@method', '@authority', '@path', '@query', 'content-type', 'content-digest'].map((n) => component(n))),
})

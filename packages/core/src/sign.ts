import { type Component, component } from './components.js'
import { randomBytes, toBase64, toBase64Url } from './encoding.js'
import { ConfigurationError } from './errors.js'
import { type Hmac, hmacBase64For, hmacSha256 } from './hmac.js'
import type { Message } from './message.js'
import { componentList, signatureBase } from './signature-base.js'
import { type SignatureEntry, type SignatureParams, serializeSignatureParams } from './signature-input.js'
import { type BareItem, serializeInteger, serializeString } from './structured-fields.js'
import { ALGORITHMS, DEFAULT_ALGORITHM, verifyEntry } from './verify-signature.js'

/** What to sign a message with. */
export interface SignMessageOptions {
  keyId: string
  secret: Uint8Array
  components: readonly Component[]
  /** Seconds since the epoch. */
  created: number
  /**
   * How long the signature is valid, in milliseconds; sets `expires = created + ⌊expiresInMs / 1000⌋`
   * when given (the wire counts whole seconds).
   */
  expiresInMs?: number
  /** Defaults to 16 fresh random bytes, base64url. Pass `false` to omit. */
  nonce?: string | false
  /** Defaults to `sigil`. Pass `false` to omit. */
  tag?: string | false
  /** Defaults to `sig1`. */
  label?: string
  /** Emit `alg` with the key's algorithm, `alg="hmac-sha256"` (default true). */
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

// CSPRNG bytes are drawn 4 KiB at a time (one getRandomValues call per 256 nonces) and every byte
// is handed out once, as node's randomUUID does with its entropy cache. On Node the pool is a
// Buffer, so a nonce is one base64url slice with no view object in between.
const NONCE_BYTES = 16
const POOL_BYTES = 4096
let pool: Uint8Array = new Uint8Array(0)
let poolOffset = POOL_BYTES
const NodeBuffer = (globalThis as { Buffer?: { from(b: ArrayBuffer): Uint8Array } }).Buffer

/** A fresh nonce: 16 CSPRNG bytes, base64url. */
export function createNonce(): string {
  if (poolOffset + NONCE_BYTES > pool.length) {
    const bytes = randomBytes(POOL_BYTES)
    pool = NodeBuffer ? NodeBuffer.from(bytes.buffer as ArrayBuffer) : bytes
    poolOffset = 0
  }
  const at = poolOffset
  poolOffset += NONCE_BYTES
  if (NodeBuffer)
    return (pool as unknown as { toString(enc: string, s: number, e: number): string }).toString('base64url', at, at + NONCE_BYTES)
  return toBase64Url(pool.subarray(at, at + NONCE_BYTES))
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
export function signMessage(message: Message, o: SignMessageOptions): Promise<SignedHeaders> {
  try {
    const p = prepare(message, o)
    const b64 = hmacBase64For(o.hmac)
    if (b64) return Promise.resolve(finish(o, p, b64(o.secret, p.base)))
    const mac = (o.hmac ?? hmacSha256).sign(o.secret, p.base)
    // A synchronous HMAC answers at once: no extra async frame or await for it.
    if (mac instanceof Uint8Array) return Promise.resolve(finish(o, p, toBase64(mac)))
    return mac.then((m) => finish(o, p, toBase64(m)))
  } catch (e) {
    return Promise.reject(e)
  }
}

/**
 * Synchronous {@link signMessage} for sync HMACs (node:crypto), used where the caller cannot
 * await, such as an undici dispatcher interceptor. Throws if the HMAC is asynchronous.
 */
export function signMessageSync(message: Message, o: SignMessageOptions): SignedHeaders {
  const p = prepare(message, o)
  const b64 = hmacBase64For(o.hmac)
  if (b64) return finish(o, p, b64(o.secret, p.base))
  const mac = (o.hmac ?? hmacSha256).sign(o.secret, p.base)
  if (!(mac instanceof Uint8Array)) throw new ConfigurationError('signMessageSync needs a synchronous HMAC (node:crypto)')
  return finish(o, p, toBase64(mac))
}

interface Prepared {
  paramsValue: string
  base: string
  params: SignatureParams
}

function finish(o: SignMessageOptions, p: Prepared, macBase64: string): SignedHeaders {
  const label = o.label ?? 'sig1'
  return { signatureInput: `${label}=${p.paramsValue}`, signature: `${label}=:${macBase64}:`, base: p.base, params: p.params }
}

function prepare(message: Message, o: SignMessageOptions): Prepared {
  const nonce = o.nonce === false ? undefined : (o.nonce ?? createNonce())
  const expires = o.expiresInMs === undefined ? undefined : o.created + Math.floor(o.expiresInMs / 1000)
  const alg = o.alg === false ? undefined : DEFAULT_ALGORITHM
  const tag = o.tag === false ? undefined : (o.tag ?? 'sigil')
  const params: SignatureParams & Record<string, BareItem | undefined> = { created: o.created, expires, nonce, keyid: o.keyId, alg, tag }
  let paramsValue: string
  if (o.extraParams) {
    // Extra parameters may override a standard one in place: the general serializer keeps order.
    for (const k in o.extraParams) params[k] = o.extraParams[k]
    paramsValue = serializeSignatureParams(o.components, params)
  } else {
    // The usual shape in one pass: the inner list, then each parameter the serializer would write.
    paramsValue = `${componentList(o.components)};created=${integer(o.created)}`
    if (expires !== undefined) paramsValue += `;expires=${integer(expires)}`
    // A nonce of ours is base64url: its String serialization is itself in quotes.
    if (nonce !== undefined) paramsValue += o.nonce === undefined ? `;nonce="${nonce}"` : `;nonce=${serializeString(nonce)}`
    paramsValue += `;keyid=${keyIdText(o.keyId)}`
    if (alg !== undefined) paramsValue += ALG_PARAM
    if (tag !== undefined) paramsValue += `;tag=${tagText(tag)}`
  }
  return { paramsValue, base: signatureBase(message, o.components, paramsValue), params }
}

/** serializeString for a value that repeats on every call (a signer's key id, its tag): the last answer is kept. */
function lastString(): (v: string) => string {
  let last: string | undefined
  let text = ''
  return (v) => {
    if (v !== last) {
      text = serializeString(v)
      last = v
    }
    return text
  }
}
const keyIdText = lastString()
const tagText = lastString()

const ALG_PARAM = `;alg=${serializeString(DEFAULT_ALGORITHM)}`
const integer = (n: number) => (Number.isSafeInteger(n) && Math.abs(n) < 1e15 ? String(n) : serializeInteger(n))

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
  // The verifiers' own base and MAC steps; a component that cannot be derived stays a ComponentError.
  const base = signatureBase(message, entry.components, entry.paramsValue)
  return { ok: await verifyEntry(ALGORITHMS[DEFAULT_ALGORITHM], hmac, secret, base, entry), base }
}

/** The components Sigil covers by default for a request with and without a body (SPEC §1). */
const BODYLESS = Object.freeze(['@method', '@authority', '@path', '@query'].map((n) => component(n)))
export const DEFAULT_COMPONENTS = Object.freeze({
  bodyless: BODYLESS,
  withBody: Object.freeze([...BODYLESS, component('content-type'), component('content-digest')]),
})

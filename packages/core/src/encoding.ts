import { ConfigurationError } from './errors.js'

// Byte/string helpers on Web platform APIs, with Node's Buffer used when present (faster).
interface BufferLike {
  from(a: ArrayBufferLike | string, b?: number | string, c?: number): { toString(enc: string): string } & Uint8Array
}
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer

const encoder = new TextEncoder()

/** UTF-8 encode. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s)
}

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
  let s = ''
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i] as number)
  return btoa(s)
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/

/** Decode standard base64; returns undefined on anything that is not strict base64. */
export function fromBase64(s: string): Uint8Array | undefined {
  if (s.length % 4 !== 0 || !B64.test(s)) return undefined
  if (NodeBuffer) return new Uint8Array(NodeBuffer.from(s, 'base64'))
  const bin = atob(s)
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

/** base64url without padding (RFC 4648 §5), used for nonces and key ids. */
export function toBase64Url(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Decode base64url without padding. */
export function fromBase64Url(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return undefined
  const pad = s.length % 4 === 2 ? '==' : s.length % 4 === 3 ? '=' : s.length % 4 === 0 ? '' : undefined
  if (pad === undefined) return undefined
  return fromBase64(s.replace(/-/g, '+').replace(/_/g, '/') + pad)
}

/**
 * A secret as given in configuration. A string is the canonical Sigil form: base64url (what
 * `@sigil/keys` prints) or standard base64, of at least {@link MIN_SECRET_BYTES} bytes. Any
 * other text must say what it is: `{ hex }`, `{ utf8 }` (e.g. a peer that takes UTF-8 secrets),
 * `{ base64 }`, `{ base64url }`; or pass the bytes.
 */
export type SecretInput = Uint8Array | string | { base64: string } | { base64url: string } | { hex: string } | { utf8: string }

/** Shortest secret Sigil accepts anywhere (SPEC §4). */
export const MIN_SECRET_BYTES = 32

/** The accepted forms, as error messages name them. */
export const SECRET_FORMS = 'a base64url or base64 string of >= 32 bytes, a Uint8Array, or { hex } / { utf8 } / { base64 } / { base64url }'

// Text that is far more likely to be hex, a passphrase or a word than random base64: a random
// 32-byte base64url string matches one of these with probability < 2e-10, so refusing them costs
// generated secrets nothing and turns a silent wrong decode into an error.
const AMBIGUOUS = /^(?:[0-9a-fA-F]+|[a-z0-9_-]+|[A-Z0-9_-]+)=*$/

function canonicalBase64(text: string): Uint8Array | undefined {
  if (/[-_]/.test(text) && /[+/]/.test(text)) return undefined
  const url = text.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')
  if (text.includes('=') && text.length % 4 !== 0) return undefined
  const bytes = fromBase64Url(url)
  // Non-zero unused bits would let two strings decode to one secret; only the canonical one passes.
  if (!bytes || toBase64Url(bytes) !== url) return undefined
  return bytes
}

/**
 * A secret written as text in the canonical Sigil form: base64url or standard base64 (padding
 * optional), canonical, and not all hex digits or single-case letters (say `{ hex }` or
 * `{ utf8 }` for those). Undefined when the text is not in that form. Length is checked by
 * {@link secretBytes}.
 */
export function decodeSecret(text: string): Uint8Array | undefined {
  if (AMBIGUOUS.test(text)) return undefined
  return canonicalBase64(text)
}

const HEX = /^(?:[0-9a-f]{2})*$/i

/**
 * The one secret rule, shared by client, server and CLI: decode a {@link SecretInput} and require
 * at least {@link MIN_SECRET_BYTES} bytes. Throws `ConfigurationError` naming the key id and the
 * accepted forms, never the value.
 *
 * @example
 * ```ts
 * const secret = secretBytes(process.env.PARTNER_SECRET, 'k_partner_1')
 * ```
 */
export function secretBytes(input: unknown, keyId: string): Uint8Array {
  const refuse = (why: string): never => {
    throw new ConfigurationError(`secret of ${keyId} ${why}; expected ${SECRET_FORMS}`)
  }
  if (input === undefined || input === null || input === '') return refuse('is missing')
  let bytes: Uint8Array | undefined
  if (input instanceof Uint8Array) bytes = input
  else if (typeof input === 'string') {
    if (AMBIGUOUS.test(input)) refuse('looks like hex or plain text; say which with { hex } or { utf8 }')
    bytes = canonicalBase64(input) ?? refuse('is not canonical base64url or base64')
  } else if (typeof input === 'object') {
    const o = input as Record<string, unknown>
    const forms = ['base64', 'base64url', 'hex', 'utf8'].filter((f) => Object.hasOwn(o, f))
    const form = forms.length === 1 ? (forms[0] as string) : refuse('must name exactly one encoding')
    const text = o[form]
    if (typeof text !== 'string' || text === '') return refuse('is missing')
    if (form === 'utf8') bytes = utf8(text)
    else if (form === 'hex') {
      if (!HEX.test(text)) refuse('is not hex')
      bytes = new Uint8Array(text.length / 2)
      for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16)
    } else if (form === 'base64url') bytes = /[+/=]/.test(text) ? undefined : canonicalBase64(text)
    else bytes = /[-_]/.test(text) ? undefined : canonicalBase64(text)
    if (!bytes) refuse(`is not ${form}`)
  } else return refuse('has an unsupported type')
  if ((bytes as Uint8Array).length < MIN_SECRET_BYTES) refuse(`is shorter than ${MIN_SECRET_BYTES} bytes`)
  return bytes as Uint8Array
}

/** Join chunks into one array (the only chunk itself when there is one). */
export function concatBytes(parts: readonly Uint8Array[], total = parts.reduce((n, p) => n + p.byteLength, 0)): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array
  const out = new Uint8Array(total)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.byteLength
  }
  return out
}

/** Fresh random bytes from the platform CSPRNG. */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n)
  // getRandomValues fills at most 65536 bytes per call.
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)))
  return out
}

/** Bytes of a string/ArrayBuffer/view as a Uint8Array without copying where possible. */
export function toBytes(input: string | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (typeof input === 'string') return utf8(input)
  if (input instanceof Uint8Array) return input
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
  return new Uint8Array(input)
}

/** True when every char is printable ASCII or SP (what a signature base line may hold). */
export function isPrintableAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c > 0x7e) return false
  }
  return true
}

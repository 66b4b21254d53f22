// Byte/string helpers on Web platform APIs, with Node's Buffer used when present (faster).
interface BufferLike {
  from(a: ArrayBufferLike | string, b?: number | string, c?: number): { toString(enc: string): string } & Uint8Array
}
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** UTF-8 encode. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s)
}

/** UTF-8 decode. */
export function fromUtf8(b: Uint8Array): string {
  return decoder.decode(b)
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

/** A secret written as text: standard base64 (padding optional) or base64url. Undefined if neither. */
export function decodeSecret(text: string): Uint8Array | undefined {
  return fromBase64Url(text.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_'))
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

import { concatBytes, utf8 } from './encoding.js'
import { ConfigurationError } from './errors.js'
import { nodeCrypto } from './platform.js'

/** The content coding of an encrypted Sigil body (RFC 8188), as it appears in `Content-Encoding`. */
export const ECE_CODING = 'aes128gcm'

/** HKDF `info` label of the body-encryption key (SPEC §8); the signing key never uses it. */
export const ECE_KEY_INFO = 'sigil aes128gcm v1'

/** Bytes of an RFC 8188 `aes128gcm` key, salt and tag. */
export const ECE_KEY_BYTES = 16

const EMPTY = new Uint8Array(0)

/**
 * HKDF-SHA256 (RFC 5869): node:crypto's `hkdfSync` on Node, WebCrypto elsewhere (browsers,
 * Workers, Deno). Both run the same RFC, checked by the vectors in test/vectors/ece.json.
 */
export async function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array> {
  if (nodeCrypto) return new Uint8Array(nodeCrypto.hkdfSync('sha256', ikm, salt, info, length))
  const key = await crypto.subtle.importKey('raw', ikm as Uint8Array<ArrayBuffer>, 'HKDF', false, ['deriveBits'])
  const bits = await crypto.subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: salt as Uint8Array<ArrayBuffer>, info: info as Uint8Array<ArrayBuffer> },
    key,
    length * 8,
  )
  return new Uint8Array(bits)
}

const derived = new WeakMap<Uint8Array, Map<string, Promise<Uint8Array>>>()

/**
 * The 16-byte `aes128gcm` key (the RFC 8188 IKM) of an API key, SPEC §8:
 * `HKDF-SHA256(IKM = secret, salt = empty, info = "sigil aes128gcm v1" || 0x00 || keyId, L = 16)`.
 * The label keeps it apart from the signing key (the secret itself, as the HMAC key); the key id
 * in `info` binds it to one key id, so a body whose header names another key id does not decrypt.
 * Memoized per secret object, as HMAC keys are.
 *
 * @example
 * ```ts
 * const key = await deriveEncryptionKey(secret, 'k1') // give this to http_ece as `key`
 * ```
 */
export function deriveEncryptionKey(secret: Uint8Array, keyId: string): Promise<Uint8Array> {
  if (!(secret instanceof Uint8Array) || secret.length === 0) {
    return Promise.reject(new ConfigurationError(`key "${keyId}": an encryption key needs the key's secret bytes`))
  }
  let byId = derived.get(secret)
  if (!byId) {
    byId = new Map()
    derived.set(secret, byId)
  }
  let key = byId.get(keyId)
  if (!key) {
    const info = concatBytes([utf8(ECE_KEY_INFO), new Uint8Array([0]), utf8(keyId)])
    key = hkdfSha256(secret, EMPTY, info, ECE_KEY_BYTES)
    // A server sees a handful of key ids per secret; never let one secret hold more than a few.
    if (byId.size >= 16) byId.clear()
    byId.set(keyId, key)
  }
  return key
}

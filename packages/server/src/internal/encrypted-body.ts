// Encrypted bodies (SPEC §8) at the body boundary of the verifier: two small steps around the
// read. `bodyCoding` runs before the body is read (it decides whether the bytes are kept for
// decryption and refuses what can be refused from the headers); `decryptBody` runs after the
// digest of the encrypted bytes checked out, so a tampered record is a DIGEST_MISMATCH before any
// decryption, and no plaintext reaches the app unless every record checked out.
import { type Component, VerificationError } from '@sigil/core'
import { decryptBytes, deriveEncryptionKey, ECE_CODING } from '@sigil/core/internal'
import type { Check } from './verify-steps.js'

/** What a verifier or route says about encrypted bodies: off (undefined), allowed, or required. */
export type EncryptedBodies = 'required' | 'allowed'

function fail(code: 'ENCRYPTION_REQUIRED' | 'CONTENT_ENCODING_UNSUPPORTED' | 'PROFILE_VIOLATION', message: string): never {
  const e = new VerificationError(code, message)
  // RFC 7694 §3: a 415 for a content coding says which codings the server takes.
  if (code === 'ENCRYPTION_REQUIRED') e.headers = { 'accept-encoding': ECE_CODING }
  throw e
}

/** The route's setting (the adapter's per-route context), else the verifier's. */
export function encryptionMode(c: Check): EncryptedBodies | undefined {
  return c.ctx?.encryptedBodies ?? c.cfg.encryptedBodies
}

/**
 * Before the read: is the body `aes128gcm`? Only where the verifier or route takes encrypted
 * bodies; elsewhere a Content-Encoding is the app's business, as before. The coding must be the
 * only one, and covered by the signature (else stripping the header would hand the app ciphertext
 * as if it were plaintext). A declared plaintext body on a `required` route is refused here,
 * unread; one the framing did not declare is refused after the read (`decryptBody`).
 */
export function bodyCoding(c: Check): undefined {
  const mode = encryptionMode(c)
  if (mode === undefined || c.pre) return undefined
  c.step = 'body'
  const h = c.input.message.headers
  const ce = (h.get('content-encoding') ?? '').trim().toLowerCase()
  if (ce === ECE_CODING) {
    const components = c.entry?.components ?? []
    if (!components.some((x: Component) => x.name === 'content-encoding')) {
      fail('PROFILE_VIOLATION', 'an aes128gcm body must be signed with content-encoding covered')
    }
    if (!c.digestCovered) fail('PROFILE_VIOLATION', 'an aes128gcm body must be signed with content-digest covered')
    c.encrypted = true
    return undefined
  }
  if (ce.includes(ECE_CODING)) fail('CONTENT_ENCODING_UNSUPPORTED', 'aes128gcm must be the only content coding')
  if (mode === 'required' && c.input.hasBody) fail('ENCRYPTION_REQUIRED', 'this route takes aes128gcm bodies only')
  return undefined
}

/**
 * After the digest of the encrypted bytes checked out: decrypt them under the signing key's
 * encryption key, whose header must name the signature's key id. The plaintext is what the app
 * gets (`verified.body`, and the adapters' body parsers); it is never larger than the ciphertext,
 * so `maxBodyBytes` bounds both.
 */
export function decryptBody(c: Check): undefined | Promise<unknown> {
  const sink = c.sink
  const received = sink ? sink.received : 0
  if (!c.encrypted) {
    if (received > 0 && encryptionMode(c) === 'required' && !c.pre) fail('ENCRYPTION_REQUIRED', 'this route takes aes128gcm bodies only')
    return undefined
  }
  if (!sink || received === 0) return undefined
  const key = c.key
  const keyId = c.keyId
  if (!key || keyId === undefined) return undefined
  // SPEC §8: only a shared secret derives K; a key of another algorithm (an asymmetric key) is refused.
  if ((key.algorithm ?? 'hmac-sha256') !== 'hmac-sha256') {
    throw new VerificationError(
      'BODY_DECRYPTION_FAILED',
      'this key cannot decrypt bodies: encryption needs a shared-secret (hmac-sha256) key',
    )
  }
  return deriveEncryptionKey(key.secret, keyId)
    .then((k) => decryptBytes(sink.body(), { key: (id) => (id === keyId ? k : undefined) }))
    .then((plain) => {
      c.plaintext = plain
    })
}

/**
 * The Web request an app handler reads after an `aes128gcm` body was decrypted (SPEC §8): the
 * plaintext as its body, no `Content-Encoding`. Used where the adapter hands the app a `Request`.
 */
export function plaintextRequest(request: Request, verified: { encrypted?: true; body?: Uint8Array }): Request {
  if (verified.encrypted !== true) return request
  const headers = new Headers(request.headers)
  headers.delete('content-encoding')
  headers.delete('content-length')
  return new Request(request.url, {
    method: request.method,
    headers,
    body: (verified.body ?? new Uint8Array(0)) as Uint8Array<ArrayBuffer>,
  })
}

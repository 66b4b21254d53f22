import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject, randomBytes } from 'node:crypto'
import { ConfigurationError } from '@sigil/core'
import { utf8 } from '@sigil/core/internal'
import type { MasterKeyRing } from './master-key.js'

/** A secret encrypted at rest: which master-key version, and `iv(12) ‖ ciphertext ‖ tag(16)`. */
export interface SealedSecret {
  version: string
  data: Uint8Array
}

const IV = 12
const TAG = 16

// A KeyObject per master key skips the key schedule on every call (~11 µs → ~4 µs per decrypt).
const keyObjects = new WeakMap<Uint8Array, KeyObject>()
function keyObject(key: Uint8Array): KeyObject {
  let k = keyObjects.get(key)
  if (!k) {
    k = createSecretKey(key)
    keyObjects.set(key, k)
  }
  return k
}

// Binding the key id and master-key version as AAD means a row's ciphertext cannot be pasted
// onto another key id (or relabelled with another version) without failing authentication.
function aad(keyId: string, version: string): Uint8Array {
  return utf8(`sigil/key-secret/v1\0${keyId}\0${version}`)
}

/**
 * Encrypt a key secret with AES-256-GCM under the ring's current master key, bound to `keyId`.
 *
 * @example
 * ```ts
 * const sealed = sealSecret(parseMasterKey(process.env.SIGIL_MASTER_KEY), keyId, secret)
 * ```
 */
export function sealSecret(ring: MasterKeyRing, keyId: string, secret: Uint8Array): SealedSecret {
  const version = ring.current
  const key = ring.keys.get(version) as Uint8Array
  const iv = randomBytes(IV)
  const c = createCipheriv('aes-256-gcm', keyObject(key), iv, { authTagLength: TAG })
  c.setAAD(aad(keyId, version))
  const ct = Buffer.concat([iv, c.update(secret), c.final(), c.getAuthTag()])
  return { version, data: new Uint8Array(ct.buffer, ct.byteOffset, ct.byteLength) }
}

/**
 * Decrypt a sealed secret. Throws `ConfigurationError` when its master-key version is not
 * configured or authentication fails (wrong master key, tampered row, or a ciphertext moved to
 * another key id). Messages name the key id (public), never key material.
 *
 * @example
 * ```ts
 * const secret = openSecret(ring, row.keyId, { version: row.version, data: row.ciphertext })
 * ```
 */
export function openSecret(ring: MasterKeyRing, keyId: string, sealed: SealedSecret): Uint8Array {
  const key = ring.keys.get(sealed.version)
  if (!key) {
    throw new ConfigurationError(`key ${keyId} is encrypted under master-key version ${sealed.version}, which is not configured`)
  }
  const d = sealed.data
  if (d.length < IV + TAG) throw new ConfigurationError(`stored secret of key ${keyId} is truncated`)
  try {
    const dec = createDecipheriv('aes-256-gcm', keyObject(key), d.subarray(0, IV), { authTagLength: TAG })
    dec.setAAD(aad(keyId, sealed.version))
    dec.setAuthTag(d.subarray(d.length - TAG))
    const head = dec.update(d.subarray(IV, d.length - TAG))
    const tail = dec.final()
    // Its own small array, never a view into Buffer's shared 8 KiB pool: a cached secret would
    // keep its whole pool slab alive (~6 KB a key measured when requests allocate in between).
    const out = new Uint8Array(head.length + tail.length)
    out.set(head)
    out.set(tail, head.length)
    return out
  } catch {
    throw new ConfigurationError(
      `stored secret of key ${keyId} failed to decrypt under master-key version ${sealed.version}: wrong master key or tampered row`,
    )
  }
}

import { decodeSecret, type KeyRecord, type KeyResolver } from '@sigil/core'

/** A secret as bytes, or as base64/base64url text. */
export type SecretInput = Uint8Array | string

function toSecret(s: SecretInput): Uint8Array | undefined {
  if (typeof s !== 'string') return s
  return decodeSecret(s)
}

/**
 * A key resolver over a fixed `{ keyId: secret }` record, for tests, demos and small apps.
 * Every key is active, principal = key id, scopes as given (default none).
 *
 * @example
 * ```ts
 * const keys = staticKeys({ k_partner_1: process.env.PARTNER_SECRET! })
 * ```
 */
export function staticKeys(record: Record<string, SecretInput>, scopes: Record<string, readonly string[]> = {}): KeyResolver {
  const map = new Map<string, KeyRecord>()
  const createdAt = new Date(0)
  for (const [keyId, s] of Object.entries(record)) {
    const secret = toSecret(s)
    if (!secret) throw new TypeError(`secret of ${keyId} is not base64`)
    map.set(keyId, { keyId, secret, principal: keyId, scopes: scopes[keyId] ?? [], status: 'active', createdAt, algorithm: 'hmac-sha256' })
  }
  return { get: (keyId) => map.get(keyId) }
}

import type { KeyRecord, KeyResolver, SecretInput } from '@sigil/core'
import { DEFAULT_ALGORITHM, secretBytes } from '@sigil/core/internal'

export type { SecretInput }

const EPOCH = new Date(0)

function recordOf(keyId: string, input: unknown, scopes: readonly string[]): KeyRecord {
  return {
    keyId,
    secret: secretBytes(input, keyId),
    principal: keyId,
    scopes,
    status: 'active',
    createdAt: EPOCH,
    algorithm: DEFAULT_ALGORITHM,
  }
}

/**
 * A key resolver over a `{ keyId: secret }` record, for tests, demos and small apps. Every key is
 * active, principal = key id, scopes as given (default none).
 *
 * Every secret is checked when this is called (SPEC §4: >= 32 bytes; see `SecretInput` for the
 * accepted forms): a missing, short or ambiguous one is a `ConfigurationError` naming the key
 * id, never the secret. The record is read live, with own properties only: deleting an entry
 * revokes that key from the next request on, and an entry added or replaced later is checked on
 * its first use (a bad one fails that request closed, 503, and never verifies). Decoded secrets
 * are cached per entry, so the hot path is one property read and one map lookup.
 *
 * @example
 * ```ts
 * const keys = staticKeys({ k_partner_1: process.env.PARTNER_SECRET })
 * ```
 */
export function staticKeys(record: Record<string, SecretInput | undefined>, scopes: Record<string, readonly string[]> = {}): KeyResolver {
  const cache = new Map<string, { input: unknown; key: KeyRecord }>()
  for (const keyId of Object.keys(record)) {
    const input = record[keyId]
    cache.set(keyId, { input, key: recordOf(keyId, input, Object.hasOwn(scopes, keyId) ? (scopes[keyId] ?? []) : []) })
  }
  return {
    get(keyId) {
      // The same three reads for a known and an unknown id, so opaque mode's "unknown costs the
      // same as a bad MAC" holds here too (an inherited value read for an unknown id is unused).
      const own = Object.hasOwn(record, keyId)
      const input = record[keyId]
      const hit = cache.get(keyId)
      if (!own) {
        if (hit) cache.delete(keyId)
        return undefined
      }
      if (hit && hit.input === input) return hit.key
      // Added or replaced since: check it now. A bad one throws, which the verifier answers 503.
      const key = recordOf(keyId, input, Object.hasOwn(scopes, keyId) ? (scopes[keyId] ?? []) : [])
      cache.set(keyId, { input, key })
      return key
    },
  }
}

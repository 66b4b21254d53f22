import type { KeyStatus } from './types.js'

/** The fields a key's liveness depends on: a key record, a stored row, a key's info. */
export interface KeyLifetime {
  status: KeyStatus
  /** The key stops working at this instant. */
  expiresAt?: Date | null | undefined
  /** End of a rotation grace period: the key stops working at this instant. */
  notAfter?: Date | undefined
}

/**
 * The one key-liveness rule (SPEC §4): a key's status at `nowMs`. Revoked stays revoked; a key
 * stored as expired, or at or past `expiresAt` or `notAfter`, is expired; any other is active.
 * The verifier, the key stores, their caches and the response signer all ask this, so a key never
 * works in one place and not in another. The SQL backends of `@sigil/keys` state the same rule as
 * one predicate (keys/src/key-status-sql.ts).
 */
export function keyStatusAt(key: KeyLifetime, nowMs: number): KeyStatus {
  const s = key.status
  if (s !== 'active') return s
  const e = key.expiresAt
  if (e && e.getTime() <= nowMs) return 'expired'
  const g = key.notAfter
  if (g && g.getTime() <= nowMs) return 'expired'
  return 'active'
}

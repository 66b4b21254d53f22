import type { KeyLimits } from '@sigil/core'
import type { SealedSecret } from './secret-box.js'

/** A key as a backend stores it: the stored status (never `expired`) and the sealed secret. */
export interface StoredKey {
  keyId: string
  principal: string
  scopes: string[]
  status: 'active' | 'revoked'
  createdAt: Date
  updatedAt: Date
  expiresAt?: Date
  notAfter?: Date
  revokedAt?: Date
  replacedBy?: string
  limits?: KeyLimits
  metadata?: Record<string, unknown>
  sealed: SealedSecret
}

/** Fields an admin operation may change; `undefined` leaves a field as it is. */
export type StoredKeyPatch = Partial<Pick<StoredKey, 'status' | 'scopes' | 'expiresAt' | 'notAfter' | 'revokedAt' | 'replacedBy'>> & {
  updatedAt: Date
}

/**
 * Row-level persistence under a {@link KeyStore}. The store does validation, generation,
 * encryption, effective status and events once; a backend only reads and writes rows. Implement
 * it to put keys somewhere new, then run the conformance suite from `@sigil/keys/testing`.
 *
 * @example
 * ```ts
 * const store = createBackedKeyStore(myBackend, { masterKey: process.env.SIGIL_MASTER_KEY })
 * ```
 */
/** SQL column of each patchable field, shared by the SQLite and PostgreSQL backends. */
export const PATCH_COLUMNS: Readonly<Record<string, string>> = {
  status: 'status',
  scopes: 'scopes',
  expiresAt: 'expires_at',
  notAfter: 'not_after',
  revokedAt: 'revoked_at',
  replacedBy: 'replaced_by',
  updatedAt: 'updated_at',
}

export interface KeyBackend {
  read(keyId: string): Promise<StoredKey | undefined>
  /** Insert a new row; key ids are random, a duplicate is a bug and may throw. */
  insert(row: StoredKey): Promise<void>
  /** Apply a patch; the updated row, or undefined when the key does not exist. */
  update(keyId: string, patch: StoredKeyPatch): Promise<StoredKey | undefined>
  /**
   * Atomically: when `keyId` is active, not yet replaced and neither expired nor past its
   * grace at `now`, apply `patch` to it and insert `next`. False (and no change) otherwise.
   */
  rotate(keyId: string, patch: StoredKeyPatch, next: StoredKey, now: Date): Promise<boolean>
  /** Every row (optionally of one principal), oldest first. */
  list(principal?: string): Promise<StoredKey[]>
  /** Up to `limit` rows whose secret is not sealed under `version`. */
  staleSecrets(version: string, limit: number): Promise<Array<{ keyId: string; sealed: SealedSecret }>>
  /** Replace a sealed secret if it is still under `fromVersion` (concurrent re-encryptions are safe). */
  replaceSecret(keyId: string, fromVersion: string, sealed: SealedSecret): Promise<boolean>
  close(): Promise<void>
}

import type { KeyStatus, RateLimits } from '@sigil/core'
import type { SealedSecret } from './secret-box.js'

/** A key as a backend stores it: the stored status (never `expired`) and the sealed secret. */
export interface StoredKey {
  keyId: string
  principal: string
  scopes: string[]
  status: 'active' | 'revoked'
  createdAt: Date
  updatedAt: Date
  /** Row version: 0 at creation, +1 on every committed change (compare-and-set). */
  version: number
  expiresAt?: Date
  notAfter?: Date
  revokedAt?: Date
  replacedBy?: string
  rateLimits?: RateLimits
  metadata?: Record<string, unknown>
  /** A test key (SPEC §4); set at insert, never patched. */
  test?: true
  sealed: SealedSecret
}

/**
 * Fields an admin operation may change; `undefined` leaves a field as it is, `null` clears it.
 * Every applied patch also increments the row's `version`.
 */
export type StoredKeyPatch = {
  status?: 'active' | 'revoked'
  scopes?: string[]
  expiresAt?: Date | null
  notAfter?: Date
  revokedAt?: Date
  replacedBy?: string
  rateLimits?: RateLimits | null
  metadata?: Record<string, unknown> | null
  updatedAt: Date
}

/** What {@link KeyBackend.list} selects: filters run in the database, rows ordered by key id. */
export interface BackendListQuery {
  principal?: string
  /** Effective status at `now` (expiry applied). */
  status?: KeyStatus
  now: Date
  /** Only key ids greater than this (the cursor: the last key id of the previous page). */
  after?: string
  limit?: number
}

/**
 * A cap on a principal's working keys, checked in the same atomic step as the write that adds
 * one: rows of `principal` that are active and neither expired nor past their grace at `now`
 * (the row a rotation replaces counts while its grace lasts).
 */
export interface KeyCountLimit {
  principal: string
  max: number
  now: Date
}

/** SQL column of each patchable field, shared by the SQLite and PostgreSQL backends. */
export const PATCH_COLUMNS: Readonly<Record<string, string>> = {
  status: 'status',
  scopes: 'scopes',
  expiresAt: 'expires_at',
  notAfter: 'not_after',
  revokedAt: 'revoked_at',
  replacedBy: 'replaced_by',
  rateLimits: 'limits',
  metadata: 'metadata',
  updatedAt: 'updated_at',
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
export interface KeyBackend {
  read(keyId: string): Promise<StoredKey | undefined>
  /**
   * Optional: the same read, answered synchronously, for a backend that reads without waiting on
   * I/O callbacks (SQLite). The store then has a synchronous `lookup`, which `verify()` and
   * `createCachedKeyStore` prefer: no promise per lookup. Throws where `read` would reject.
   */
  readSync?(keyId: string): StoredKey | undefined
  /**
   * True when `insert` and `rotate` honour a {@link KeyCountLimit} atomically (under concurrent
   * writers, other processes included). A store refuses a limited write on a backend without it.
   */
  readonly keyLimits?: boolean
  /**
   * Insert a new row; key ids are random, a duplicate is a bug and may throw. With `limit`
   * (see `keyLimits`): resolves false, inserting nothing, when the principal already has `max` working keys.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: backends written before limits resolve void
  insert(row: StoredKey, limit?: KeyCountLimit): Promise<boolean | void>
  /**
   * Apply a patch and increment the version, in one atomic step; with `ifVersion`, only when
   * the row is still at that version. The updated row, or undefined when no row matched.
   */
  update(keyId: string, patch: StoredKeyPatch, ifVersion?: number): Promise<StoredKey | undefined>
  /**
   * Atomically: when `keyId` is active, not yet replaced and neither expired nor past its
   * grace at `now`, apply `patch` to it (version + 1) and insert `next`. False (and no change) otherwise.
   * With `limit`: `'limit'` (and no change) when, the patch applied, the principal would have more
   * than `max` working keys with `next`.
   */
  rotate(keyId: string, patch: StoredKeyPatch, next: StoredKey, now: Date, limit?: KeyCountLimit): Promise<boolean | 'limit'>
  /** Rows matching the query, ordered by key id. */
  list(query: BackendListQuery): Promise<StoredKey[]>
  /** Up to `limit` rows whose secret is not sealed under `version`, key id > `after`, ordered by key id. */
  staleSecrets(version: string, limit: number, after?: string): Promise<Array<{ keyId: string; sealed: SealedSecret }>>
  /** Replace a sealed secret if it is still under `fromVersion` (concurrent re-encryptions are safe). */
  replaceSecret(keyId: string, fromVersion: string, sealed: SealedSecret): Promise<boolean>
  close(): Promise<void>
}

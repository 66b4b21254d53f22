import type { KeyStatus, RateLimits } from '@sigil/core'
import type { SealedSecret } from './secret-box.js'
import type { SessionBackend } from './session-store.js'

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
  /**
   * HMAC of every authorization field under the master key (see `recordMac`); the store computes
   * and checks it, the backend only keeps it. Undefined: a row of a release before record MACs.
   */
  mac?: Uint8Array
  /**
   * Row format (`KEY_ROW_FORMAT`); undefined on rows written before formats were recorded. Not
   * covered by the record MAC: conversions are driven by the MACed fields themselves.
   */
  format?: number
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
  /** The record MAC of the row as the patch leaves it (the store computes it from the row it read). */
  mac?: Uint8Array
  /** The row format the patch leaves (a write persists a conversion made on read). */
  format?: number
  updatedAt: Date
}

/**
 * One entry of the store's audit log (its outbox): who changed which key, how, when. Written in
 * the same transaction as the change it records, so no committed change lacks its event. Never a
 * secret or token.
 */
export interface KeyEvent {
  /** Increasing; the cursor of {@link KeyBackend.listEvents}. Assigned by the backend. */
  id: number
  at: Date
  /** Who: `cli:<user>@<host>`, `operator:<name>`, `key:<keyId>` (an admin API client), `partner:<principal>`, … */
  actor: string
  /** `key.create`, `key.update`, `key.rotate`, `key.revoke`, `key.restore`, `key.import`, or an application's own (`session.login`). */
  action: string
  keyId?: string
  principal?: string
  detail?: Record<string, unknown>
}

/** An event to write: the backend assigns its id. */
export type NewKeyEvent = Omit<KeyEvent, 'id'>

/** What {@link KeyBackend.listEvents} selects: newest first, ids below `before`. */
export interface EventListQuery {
  limit: number
  before?: number
  principal?: string
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
  mac: 'record_mac',
  format: 'format',
  updatedAt: 'updated_at',
}

/** One row of {@link KeyBackend.replaceSecrets}: the arguments of `replaceSecret`. */
export interface SecretReplacement {
  keyId: string
  fromVersion: string
  sealed: SealedSecret
  mac?: Uint8Array
  ifVersion?: number
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
   * Optional, for opaque mode (SPEC §2 step 4): `row` as a read of it returns it, decoded from the
   * backend's own row format on every call. The store builds an unknown key id's record from its
   * decoy row passed through this, so the record is made of values as new as a found key's (the
   * SQLite backend copies each blob into a new small array; a record built from the decoy's
   * long-lived arrays answered 0.3-1 µs faster than a found key). A backend that has it does no
   * decoding of its own for an unknown id. Absent: the decoy row is used as it is.
   */
  asRead?(row: StoredKey): StoredKey
  /**
   * True when `insert` and `rotate` honour a {@link KeyCountLimit} atomically (under concurrent
   * writers, other processes included). A store refuses a limited write on a backend without it.
   */
  readonly keyLimits?: boolean
  /**
   * Insert a new row (and `event`, in the same transaction); key ids are random, a duplicate is a
   * bug and may throw. With `limit` (see `keyLimits`): resolves false, inserting nothing (and no
   * event), when the principal already has `max` working keys.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: backends written before limits resolve void
  insert(row: StoredKey, event?: NewKeyEvent, limit?: KeyCountLimit): Promise<boolean | void>
  /**
   * Apply a patch and increment the version, in one atomic step; with `ifVersion`, only when
   * the row is still at that version. `event` is written in the same transaction, only when the
   * patch applied. The updated row, or undefined when no row matched.
   */
  update(keyId: string, patch: StoredKeyPatch, ifVersion?: number, event?: NewKeyEvent): Promise<StoredKey | undefined>
  /**
   * Atomically: when `keyId` is active, not yet replaced and neither expired nor past its
   * grace at `now` (and, with `ifVersion`, still at that row version: the patch carries a record
   * MAC computed from that version), apply `patch` to it (version + 1) and insert `next`. False
   * (and no change) otherwise. `event` is written in the same transaction. With `limit`: `'limit'`
   * (and no change) when, the patch applied, the principal would have more than `max` working
   * keys with `next`.
   */
  rotate(
    keyId: string,
    patch: StoredKeyPatch,
    next: StoredKey,
    now: Date,
    ifVersion?: number,
    event?: NewKeyEvent,
    limit?: KeyCountLimit,
  ): Promise<boolean | 'limit'>
  /** Rows matching the query, ordered by key id. */
  list(query: BackendListQuery): Promise<StoredKey[]>
  /** Up to `limit` rows whose secret is not sealed under `version`, key id > `after`, ordered by key id. */
  staleSecrets(version: string, limit: number, after?: string): Promise<Array<{ keyId: string; sealed: SealedSecret }>>
  /**
   * Replace a sealed secret (and the record MAC, which is keyed by the master-key version) if it
   * is still under `fromVersion` and, with `ifVersion`, the row still at that version (concurrent
   * re-encryptions and edits are safe). The row version does not change.
   */
  replaceSecret(keyId: string, fromVersion: string, sealed: SealedSecret, mac?: Uint8Array, ifVersion?: number): Promise<boolean>
  /**
   * Optional, for batched master-key rotation: up to `limit` whole rows whose secret is not sealed
   * under `version`, key id > `after`, ordered by key id. Without it the store reads each row.
   */
  staleRows?(version: string, limit: number, after?: string): Promise<StoredKey[]>
  /**
   * Optional, for batched master-key rotation: {@link KeyBackend.replaceSecret} for many rows in
   * one transaction (each with its own `fromVersion` and `ifVersion` guard). Resolves the key ids
   * replaced; a row whose guard failed is left as it was and not listed.
   */
  replaceSecrets?(items: ReadonlyArray<SecretReplacement>): Promise<string[]>
  /** Optional: how many rows are sealed under each master-key version (one aggregate query). */
  countSecretVersions?(): Promise<Map<string, number>>
  /**
   * Optional, for imports: insert many rows, each with its event, all or none (one transaction;
   * a key id already taken fails the whole call). Without it rows are inserted one at a time.
   */
  insertMany?(items: ReadonlyArray<{ row: StoredKey; event?: NewKeyEvent }>): Promise<void>
  /** Append an event that goes with no key change (a sign-in, an invite). */
  appendEvent?(event: NewKeyEvent): Promise<KeyEvent>
  /** The audit log, newest first. */
  listEvents?(query: EventListQuery): Promise<KeyEvent[]>
  /** Sign-in sessions and spent one-time tokens, next to the keys (the store exposes them as `sessions`). */
  readonly sessions?: SessionBackend
  close(): Promise<void>
}

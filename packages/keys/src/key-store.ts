import type { KeyRecord, KeyResolver, KeyStatus, RateLimits } from '@sigil/core'
import type { KeyEvent } from './key-backend.js'
import type { KeyGrant } from './key-grant.js'
import type { SessionStore } from './session-store.js'

/** What to create a key for. Validated with zod by every store. */
export interface CreateKeyInput {
  /** Who the key acts for (a user, service or tenant id). 1-256 characters. */
  principal: string
  /** Scopes the verifier checks routes against. Default none. */
  scopes?: readonly string[]
  /** The key stops working at this instant. Default never. */
  expiresAt?: Date
  /** Rate limit and quota (`rate.windowMs`, `quota.periodMs`, milliseconds). Default none. */
  rateLimits?: RateLimits
  metadata?: Record<string, unknown>
  /**
   * A test key (SPEC §4): token prefix `sigil_tk_`, `verified.test`, refusable per route, and its
   * failed requests are explained to the partner. Fixed at creation; a rotation keeps it. Default false.
   */
  test?: boolean
}

/** A key as admin commands show it: everything but the secret. */
export interface KeyInfo extends Omit<KeyRecord, 'secret'> {
  /** When the key was revoked. */
  revokedAt?: Date
  /** The key that replaced this one in a rotation. */
  replacedBy?: string
  /** Master-key version its secret is encrypted under (persistent stores only). */
  masterKeyVersion?: string
  /** Row version, +1 on every change: pass it as `ifVersion` to {@link KeyStore.update} (compare-and-set). */
  version?: number
}

/** A freshly issued key. `token` and `secret` are shown once and never stored in clear. */
export interface CreatedKey {
  keyId: string
  /** The one-time `sigil_sk_…` token to hand to the client. */
  token: string
  secret: Uint8Array
  key: KeyInfo
}

/** Result of {@link KeyStore.rotate}: the new key, and the old one with its grace deadline. */
export interface RotatedKey extends CreatedKey {
  previous: KeyInfo
}

/**
 * Who is asking, for the admin paths that act for someone (the portal): the store checks the
 * grant itself (see `key-grant.ts`). Omitted: the operator's authority ({@link FULL_GRANT}).
 */
export interface KeyGrantOptions {
  grant?: KeyGrant
}

/** Options of {@link KeyStore.rotate}. */
export interface RotateOptions extends KeyGrantOptions {
  /** How long the old key keeps working, in ms. Default 24 h; 0 ends it now. */
  graceMs?: number
  /**
   * Expiry of the new key. Default: the old key's (a rotation never drops an expiry); `null`:
   * never. A later one than the old key's needs a grant that may extend (`extendExpiry`).
   */
  expiresAt?: Date | null
}

/**
 * Filter and page of {@link KeyStore.list}. Status is the effective one (expiry applied). Filters
 * run in the database; keys come ordered by key id, so a page continues with `after` set to the
 * last key id of the previous one.
 */
export interface ListKeysFilter {
  principal?: string
  status?: KeyStatus
  /** At most this many keys (1-10,000). Default: all. */
  limit?: number
  /** Only keys whose id sorts after this one (the cursor). */
  after?: string
}

/**
 * A change to one key, applied atomically by {@link KeyStore.update}: concurrent updates never
 * lose each other's writes. `null` clears a field.
 */
export interface KeyUpdate {
  /** Replace the scopes. Not with `addScopes`/`removeScopes`. */
  scopes?: readonly string[]
  /** Add these scopes to the current ones (as they are when the update commits). */
  addScopes?: readonly string[]
  /** Remove these scopes from the current ones (applied after `addScopes`). */
  removeScopes?: readonly string[]
  expiresAt?: Date | null
  rateLimits?: RateLimits | null
  /** Replace the metadata. Not with `mergeMetadata`. */
  metadata?: Record<string, unknown> | null
  /** Shallow-merge into the current metadata; a `null` value removes that entry. */
  mergeMetadata?: Record<string, unknown>
}

/** Options of {@link KeyStore.update}. */
export interface UpdateKeyOptions extends KeyGrantOptions {
  /** Apply only if the key is still at this `version` (from `info()`); otherwise `KEY_CONFLICT`. */
  ifVersion?: number
}

/** Result of {@link EncryptedKeyStore.rotateMasterKey}. */
export interface MasterKeyRotation {
  /** Secrets re-encrypted by this call. */
  reencrypted: number
  /** The master-key version everything is now meant to be under (never key material). */
  current: string
  /** Rows that could not be re-encrypted (e.g. tampered, or under a version not configured). */
  failed: Array<{ keyId: string; reason: string }>
}

/** Progress of {@link EncryptedKeyStore.rotateMasterKey}, reported after every batch. */
export interface MasterKeyRotationProgress {
  /** Rows re-encrypted so far by this call. */
  done: number
  /** Rows that could not be re-encrypted so far (tampered). */
  failed: number
  /** Rows not under the current version when the call started (rows added meanwhile are not counted). */
  total: number
}

/** Options of {@link EncryptedKeyStore.rotateMasterKey}. */
export interface RotateMasterKeyOptions {
  /** Rows re-encrypted per transaction (one statement on PostgreSQL). Default 500, at most 10,000. */
  batchSize?: number
  /** Called after every batch (and once before the first, with `done: 0`). */
  onProgress?: (progress: MasterKeyRotationProgress) => void
}

/** What changed, for cache invalidation and fan-out to other instances (e.g. Redis pub/sub). */
export interface KeyChangeEvent {
  /** `updated`: limits or metadata (or several fields at once) changed. */
  type: 'created' | 'rotated' | 'revoked' | 'scopes' | 'expired' | 'updated' | 'reencrypted'
  keyId: string
  /** For `rotated`: the new key. */
  replacedBy?: string
  at: Date
}

/** Called after a change is committed. Exceptions are swallowed: a listener cannot undo a change. */
export type KeyChangeListener = (event: KeyChangeEvent) => void

/**
 * A key store: the read side `get` that `verify()` uses (core's {@link KeyResolver}) plus the
 * admin side. `get` returns the effective status: a key past `expiresAt` or `notAfter` comes back
 * `expired`, a revoked one `revoked`. Admin methods on a missing key throw `KEY_UNKNOWN`.
 *
 * @example
 * ```ts
 * const store: KeyStore = createMemoryKeyStore()
 * const { token } = await store.create({ principal: 'acme', scopes: ['orders:write'] })
 * const next = await store.rotate(parseToken(token).keyId, { graceMs: 3_600_000 })
 * ```
 */
export interface KeyStore extends KeyResolver {
  get(keyId: string): Promise<KeyRecord | undefined>
  /** The key without its secret (admin view), or undefined. */
  info(keyId: string): Promise<KeyInfo | undefined>
  /** With `grant`: its principal, scopes and key count (atomic with the insert) are enforced. */
  create(input: CreateKeyInput, options?: KeyGrantOptions): Promise<CreatedKey>
  list(filter?: ListKeysFilter): Promise<KeyInfo[]>
  /**
   * Issue a new key for the same principal, scopes, limits and expiry; the old one works until the
   * grace ends. It passes the same checks as `create` (scopes, count with keys in grace, expiry).
   */
  rotate(keyId: string, options?: RotateOptions): Promise<RotatedKey>
  /** Immediate and final. Revoking a revoked key is a no-op. */
  revoke(keyId: string, options?: KeyGrantOptions): Promise<KeyInfo>
  setScopes(keyId: string, scopes: readonly string[]): Promise<KeyInfo>
  /**
   * Change scopes, expiry, limits or metadata atomically (add/remove and merge apply to the value
   * current at commit). With `ifVersion`, a key changed since that version is `KEY_CONFLICT`.
   */
  update(keyId: string, changes: KeyUpdate, options?: UpdateKeyOptions): Promise<KeyInfo>
  /** Set `expiresAt` (default now). */
  expire(keyId: string, at?: Date): Promise<KeyInfo>
  /** Subscribe to committed changes; returns the unsubscribe function. */
  onChange(listener: KeyChangeListener): () => void
  /**
   * The same store, recording `actor` (`operator:alice`, `key:<keyId>`, `partner:acme`, …) as who
   * made each change in its audit log. Stores built on `createBackedKeyStore` have it.
   */
  as?(actor: string): KeyStore
  /**
   * The audit log: every create, update, rotate, revoke and restore, written in the same
   * transaction as the change (so no committed change lacks its event), newest first.
   */
  events?(query?: { limit?: number; before?: number; principal?: string }): Promise<KeyEvent[]>
  /** Add an event that goes with no key change (a sign-in, an invite) to the audit log. */
  appendEvent?(event: Omit<KeyEvent, 'id' | 'at' | 'actor'> & { at?: Date; actor?: string }): Promise<KeyEvent>
  /**
   * Sign-in sessions and spent one-time tokens (hashes only), shared by every process on the
   * store: the admin portal keeps its sign-ins here, so any number of instances serve one
   * operator. The memory store's live in its process.
   */
  readonly sessions?: SessionStore
  close(): Promise<void>
}

/** A store that keeps secrets encrypted under a master key and can re-encrypt them. */
export interface EncryptedKeyStore extends KeyStore {
  as(actor: string): EncryptedKeyStore
  events(query?: { limit?: number; before?: number; principal?: string }): Promise<KeyEvent[]>
  appendEvent(event: Omit<KeyEvent, 'id' | 'at' | 'actor'> & { at?: Date; actor?: string }): Promise<KeyEvent>
  /**
   * Re-encrypt every secret not under the current master-key version, in batches (one
   * transaction each), resumable: rows already under the current version are skipped, so a run
   * that was interrupted continues where it stopped. Refused before anything is written, with a
   * `ConfigurationError` naming each version and how many keys use it, when the master key lacks
   * a version that rows are sealed under. A row that fails authentication (tampered) is skipped
   * and reported in `failed`; every other row is still re-encrypted.
   */
  rotateMasterKey(options?: RotateMasterKeyOptions): Promise<MasterKeyRotation>
}

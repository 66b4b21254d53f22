import type { KeyLimits, KeyRecord, KeyResolver, KeyStatus } from '@sigil/core'

/** What to create a key for. Validated with zod by every store. */
export interface CreateKeyInput {
  /** Who the key acts for (a user, service or tenant id). 1-256 characters. */
  principal: string
  /** Scopes the verifier checks routes against. Default none. */
  scopes?: readonly string[]
  /** The key stops working at this instant. Default never. */
  expiresAt?: Date
  limits?: KeyLimits
  metadata?: Record<string, unknown>
}

/** A key as admin commands show it: everything but the secret. */
export interface KeyInfo extends Omit<KeyRecord, 'secret'> {
  /** When the key was revoked. */
  revokedAt?: Date
  /** The key that replaced this one in a rotation. */
  replacedBy?: string
  /** Master-key version its secret is encrypted under (persistent stores only). */
  masterKeyVersion?: string
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

/** Options of {@link KeyStore.rotate}. */
export interface RotateOptions {
  /** How long the old key keeps working, in ms. Default 24 h; 0 ends it now. */
  graceMs?: number
  /** Expiry of the new key. Default never. */
  expiresAt?: Date
}

/** Filter of {@link KeyStore.list}. Status is the effective one (expiry applied). */
export interface ListKeysFilter {
  principal?: string
  status?: KeyStatus
}

/** What changed, for cache invalidation and fan-out to other instances (e.g. Redis pub/sub). */
export interface KeyChangeEvent {
  type: 'created' | 'rotated' | 'revoked' | 'scopes' | 'expired' | 'reencrypted'
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
  create(input: CreateKeyInput): Promise<CreatedKey>
  list(filter?: ListKeysFilter): Promise<KeyInfo[]>
  /** Issue a new key for the same principal, scopes and limits; the old one works until the grace ends. */
  rotate(keyId: string, options?: RotateOptions): Promise<RotatedKey>
  /** Immediate and final. Revoking a revoked key is a no-op. */
  revoke(keyId: string): Promise<KeyInfo>
  setScopes(keyId: string, scopes: readonly string[]): Promise<KeyInfo>
  /** Set `expiresAt` (default now). */
  expire(keyId: string, at?: Date): Promise<KeyInfo>
  /** Subscribe to committed changes; returns the unsubscribe function. */
  onChange(listener: KeyChangeListener): () => void
  close(): Promise<void>
}

/** A store that keeps secrets encrypted under a master key and can re-encrypt them. */
export interface EncryptedKeyStore extends KeyStore {
  /** Re-encrypt every secret not under the current master-key version. */
  rotateMasterKey(): Promise<{ reencrypted: number }>
}

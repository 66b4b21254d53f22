/** Lifecycle state of a key. */
export type KeyStatus = 'active' | 'revoked' | 'expired'

/** A key's rate limits, read by the server's rate limiter when present. Durations in milliseconds. */
export interface RateLimits {
  /** Requests allowed per `windowMs` (rate limit). */
  rate?: { points: number; windowMs: number }
  /** Requests allowed per `periodMs` (quota, e.g. a day: 86 400 000). */
  quota?: { points: number; periodMs: number }
}

/**
 * A key as the verifier sees it (SPEC §4). `secret` is plaintext in memory only; persistent
 * stores encrypt it at rest.
 */
export interface KeyRecord {
  keyId: string
  secret: Uint8Array
  principal: string
  scopes: readonly string[]
  status: KeyStatus
  createdAt: Date
  /** The key stops working at this instant. */
  expiresAt?: Date
  /** End of a rotation grace period: the key stops working at this instant. */
  notAfter?: Date
  /** Always `hmac-sha256` in v1; the verifier takes the algorithm from here, never the header. */
  algorithm?: 'hmac-sha256'
  /** Rate limits and quota of this key (the server's `rateLimiter` applies them). */
  rateLimits?: RateLimits
  metadata?: Record<string, unknown>
  /**
   * A test key (SPEC §4): its token starts `sigil_tk_`, `verified.test` is true, a route can refuse
   * it (`testKeys: false`), and a request it signed that fails verification gets an explanation.
   * Set at creation, never changed. Absent on live keys.
   */
  test?: true
}

/** The read side of a key store, all `verify()` needs. */
export interface KeyResolver {
  get(keyId: string): Promise<KeyRecord | undefined> | KeyRecord | undefined
  /**
   * Optional, same answer as `get`: a cache answers a hit synchronously here and returns a promise
   * only on a miss. `verify()` prefers it, so a cached key costs no promise and no timer.
   */
  lookup?(keyId: string): Promise<KeyRecord | undefined> | KeyRecord | undefined
}

/**
 * Replay protection: remember (keyId, nonce) for `ttlMs`. Returns true when the pair was new
 * (and is now recorded), false when it was already there. Must be atomic. Throws when the store
 * cannot answer; the verifier turns that into `STORE_UNAVAILABLE`.
 */
export interface NonceStore {
  /**
   * `createdS` is the signature's `created` (seconds): a store that can tell it lost its data
   * (e.g. a Redis restarted without persistence) refuses signatures created before that moment
   * with `NONCE_STORE_RESET` instead of accepting a possible replay. `windowS` is the verifier's
   * window: a signature could be accepted from `created − windowS` on (a client clock running
   * fast), so a store refuses it when that instant is before the reset (SPEC §2 step 6).
   */
  checkAndSet(keyId: string, nonce: string, ttlMs: number, createdS?: number, windowS?: number): Promise<boolean> | boolean
}

import { createHash } from 'node:crypto'
import { ConfigurationError } from '@sigil/core'
import { checkOptions } from '@sigil/core/internal'

/**
 * Sign-in state kept next to the keys (the admin portal's sessions and spent one-time links), as
 * a backend stores it: every `id` is a hash of a token (see {@link SessionStore}), never the token.
 * Implement it with a {@link KeyBackend} so every portal instance on the same database shares it.
 */
export interface SessionBackend {
  /**
   * Record `id` as spent until `expiresAt`. True for exactly one caller per id, across every
   * process on the store (a unique insert); false when it was spent before.
   */
  spend(id: string, expiresAt: Date): Promise<boolean>
  /** Insert a session row. */
  insertSession(id: string, data: string, expiresAt: Date): Promise<void>
  /** The row if it exists and `expiresAt > now`, checked in the query (an expired row is never read back). */
  readSession(id: string, now: Date): Promise<{ data: string; expiresAt: Date } | undefined>
  /** Delete the row (a sign-out); deleting a missing row is a no-op. */
  deleteSession(id: string): Promise<void>
  /** Delete sessions and spent ids whose `expiresAt <= now`; the number of rows deleted. */
  sweep(now: Date): Promise<number>
}

/**
 * Sessions and one-time tokens shared by every process on a key store (`KeyStore.sessions`):
 * what lets any number of admin portal instances serve one operator. It hashes every token
 * (SHA-256, one label per kind) before the backend sees it, so the database holds no token that
 * could be replayed; `data` is the caller's (the portal authenticates it with its own secret).
 *
 * @example
 * ```ts
 * const sessions = store.sessions ?? createMemorySessionStore()
 * if (await sessions.spend(linkId, linkExpiresAt)) await sessions.create(token, data, expiresAt)
 * ```
 */
export interface SessionStore {
  /** Spend a one-time token: true exactly once (atomic across instances), false after; false when already expired. */
  spend(token: string, expiresAt: Date, now?: Date): Promise<boolean>
  create(token: string, data: string, expiresAt: Date): Promise<void>
  /** The session of `token` while it has not expired at `now` (default: the clock), else undefined. */
  read(token: string, now?: Date): Promise<{ data: string; expiresAt: Date } | undefined>
  /** End the session of `token` for every instance at once. */
  revoke(token: string): Promise<void>
  /** Delete what expired by `now`; the number of rows deleted. Instances may call it at any time. */
  sweep(now?: Date): Promise<number>
}

const MAX_TOKEN = 4096
const MAX_DATA = 16 * 1024

/** The stored id of a token: SHA-256 under a label per kind, so a session id never matches a spent link's. */
export function sessionTokenHash(kind: 'session' | 'once', token: string): string {
  return createHash('sha256').update(`sigil-${kind}\0`).update(token, 'utf8').digest('base64url')
}

function checkToken(token: unknown): string {
  // Only random tokens of at least 128 bits make sense here: a short one is a programmer error.
  if (typeof token !== 'string' || token.length < 16 || token.length > MAX_TOKEN)
    throw new ConfigurationError('a session or one-time token must be a string of 16-4096 characters')
  return token
}

function checkDate(d: unknown, what: string): Date {
  if (!(d instanceof Date) || !Number.isFinite(d.getTime())) throw new ConfigurationError(`${what} must be a valid Date`)
  return d
}

/** The {@link SessionStore} over a backend: hashing, validation and the clock live here once. */
export function createSessionStore(backend: SessionBackend, clock: () => number = Date.now): SessionStore {
  return {
    async spend(token, expiresAt, now = new Date(clock())) {
      checkDate(expiresAt, 'expiresAt')
      if (expiresAt.getTime() <= checkDate(now, 'now').getTime()) return false
      return backend.spend(sessionTokenHash('once', checkToken(token)), expiresAt)
    },
    async create(token, data, expiresAt) {
      if (typeof data !== 'string' || data.length > MAX_DATA)
        throw new ConfigurationError(`session data must be a string of at most ${MAX_DATA} characters`)
      await backend.insertSession(sessionTokenHash('session', checkToken(token)), data, checkDate(expiresAt, 'expiresAt'))
    },
    async read(token, now = new Date(clock())) {
      if (typeof token !== 'string' || token.length < 16 || token.length > MAX_TOKEN) return undefined
      return backend.readSession(sessionTokenHash('session', token), checkDate(now, 'now'))
    },
    async revoke(token) {
      if (typeof token !== 'string' || token.length < 16 || token.length > MAX_TOKEN) return
      await backend.deleteSession(sessionTokenHash('session', token))
    },
    sweep: (now = new Date(clock())) => backend.sweep(checkDate(now, 'now')),
  }
}

/** A {@link SessionBackend} in this process's memory: sessions end with the process. */
export function createMemorySessionBackend(): SessionBackend {
  const sessions = new Map<string, { data: string; expiresAt: Date }>()
  const spent = new Map<string, number>()
  return {
    // One event-loop turn from the check to the write: nothing interleaves.
    async spend(id, expiresAt) {
      if (spent.has(id)) return false
      spent.set(id, expiresAt.getTime())
      return true
    },
    async insertSession(id, data, expiresAt) {
      if (sessions.has(id)) throw new Error('duplicate session id')
      sessions.set(id, { data, expiresAt: new Date(expiresAt) })
    },
    async readSession(id, now) {
      const s = sessions.get(id)
      return s && s.expiresAt.getTime() > now.getTime() ? { data: s.data, expiresAt: new Date(s.expiresAt) } : undefined
    },
    async deleteSession(id) {
      sessions.delete(id)
    },
    async sweep(now) {
      const t = now.getTime()
      let n = 0
      for (const [k, s] of sessions) if (s.expiresAt.getTime() <= t && sessions.delete(k)) n++
      for (const [k, exp] of spent) if (exp <= t && spent.delete(k)) n++
      return n
    },
  }
}

/**
 * Sessions in this process's memory: what a single portal process (or a key store without a
 * database) uses. A restart signs everyone out; other processes do not see them.
 *
 * @example
 * ```ts
 * const sessions = createMemorySessionStore()
 * ```
 */
export function createMemorySessionStore(o: { now?: () => number } = {}): SessionStore {
  checkOptions('memory session store options', o, ['now'])
  return createSessionStore(createMemorySessionBackend(), o.now)
}

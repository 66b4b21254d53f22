import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { LinkClaims } from './links.js'

/** A signed-in dashboard user: the operator, or a partner limited to one principal. */
export interface Session {
  id: string
  claims: LinkClaims
  /** Sent in every form and checked on every change (synchronizer token). */
  csrf: string
  expiresAt: number
}

/** Default session lifetime: 8 hours. */
export const SESSION_TTL_MS = 8 * 3600_000
const MAX_SESSIONS = 10_000

/**
 * Sessions and used sign-in links, in this process's memory: a restart signs everyone out, and
 * a sign-in link can be used once per process lifetime (links live 15 minutes).
 */
export function createSessionStore(o: { ttlMs?: number; now?: () => number } = {}) {
  const sessions = new Map<string, Session>()
  const usedLinks = new Map<string, number>()
  const ttl = o.ttlMs ?? SESSION_TTL_MS
  const now = o.now ?? Date.now
  const sweep = () => {
    const t = now()
    for (const [k, s] of sessions) if (s.expiresAt <= t) sessions.delete(k)
    for (const [k, exp] of usedLinks) if (exp <= t) usedLinks.delete(k)
  }
  return {
    /** Spend a link's `jti`: true the first time, false after. */
    spendLink(jti: string, exp: number): boolean {
      if (usedLinks.has(jti)) return false
      if (usedLinks.size >= MAX_SESSIONS) sweep()
      usedLinks.set(jti, exp)
      return true
    },
    create(claims: LinkClaims): Session {
      if (sessions.size >= MAX_SESSIONS) sweep()
      const s: Session = {
        id: randomBytes(32).toString('base64url'),
        claims,
        csrf: randomBytes(32).toString('base64url'),
        expiresAt: now() + ttl,
      }
      sessions.set(s.id, s)
      return s
    },
    get(id: string | undefined): Session | undefined {
      if (!id) return undefined
      const s = sessions.get(id)
      if (!s) return undefined
      if (s.expiresAt <= now()) {
        sessions.delete(id)
        return undefined
      }
      return s
    },
    destroy(id: string): void {
      sessions.delete(id)
    },
  }
}

export type SessionStore = ReturnType<typeof createSessionStore>

/** Constant-time check of a submitted CSRF token against the session's. */
export function csrfMatches(session: Session, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false
  const a = Buffer.from(submitted)
  const b = Buffer.from(session.csrf)
  return a.length === b.length && timingSafeEqual(a, b)
}

import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto'
import { createMemorySessionStore, type SessionStore } from '@sigil/keys'
import { z } from 'zod'
import { claimsSchema, type LinkClaims } from './links.js'

/** A signed-in dashboard user: the operator, or a partner limited to one principal. */
export interface Session {
  /** The session token (the cookie's value). Only its hash is stored. */
  id: string
  claims: LinkClaims
  /** Sent in every form and checked on every change (synchronizer token), derived from the session token. */
  csrf: string
  expiresAt: number
}

/** Default session lifetime: 8 hours. */
export const SESSION_TTL_MS = 8 * 3600_000
// Expired rows are deleted by whichever instance signs someone in after this long.
const SWEEP_EVERY_MS = 10 * 60_000

const stored = z.object({ c: claimsSchema, exp: z.number().int() }).strict()

/**
 * The portal's sessions over a {@link SessionStore}: the key store's (`store.sessions`, shared by
 * every portal instance on that database) or, without one, this process's memory. The store
 * keeps a hash of each session token and of each spent link's id, never a token; the claims it
 * keeps are MACed with the portal secret, bound to the session token, so a row written or copied
 * by someone who can write the database but holds no master key signs no one in. The CSRF token
 * is derived from the session token, so every instance checks it without storing it.
 */
export function createPortalSessions(o: { store?: SessionStore; adminSecret: Uint8Array; ttlMs?: number; now?: () => number }) {
  const now = o.now ?? Date.now
  const store = o.store ?? createMemorySessionStore({ now })
  const ttl = o.ttlMs ?? SESSION_TTL_MS
  const derive = (label: string) => Buffer.from(hkdfSync('sha256', o.adminSecret, Buffer.alloc(0), label, 32))
  const macKey = derive('sigil-admin session v1')
  const csrfKey = derive('sigil-admin csrf v1')
  const macOf = (token: string, data: string) => createHmac('sha256', macKey).update(token).update('\0').update(data).digest('base64url')
  const csrfOf = (token: string) => createHmac('sha256', csrfKey).update(token).digest('base64url')
  let lastSweep = now()
  const sweep = () => {
    if (now() - lastSweep < SWEEP_EVERY_MS) return
    lastSweep = now()
    // Housekeeping only: expiry is enforced by every read, a failed sweep is retried later.
    store.sweep(new Date(lastSweep)).catch(() => {})
  }
  return {
    /** Spend a link's `jti`: true the first time on any instance, false after. */
    spendLink(jti: string, exp: number): Promise<boolean> {
      return store.spend(`link:${jti}`, new Date(exp), new Date(now()))
    },
    async create(claims: LinkClaims): Promise<Session> {
      sweep()
      const id = randomBytes(32).toString('base64url')
      const expiresAt = now() + ttl
      const data = JSON.stringify({ c: claims, exp: expiresAt })
      await store.create(id, `${data}.${macOf(id, data)}`, new Date(expiresAt))
      return { id, claims, csrf: csrfOf(id), expiresAt }
    },
    async get(id: string | undefined): Promise<Session | undefined> {
      if (id?.length !== 43) return undefined
      const t = now()
      const row = await store.read(id, new Date(t))
      if (!row) return undefined
      const dot = row.data.lastIndexOf('.')
      const data = row.data.slice(0, dot)
      const mac = Buffer.from(row.data.slice(dot + 1))
      const expected = Buffer.from(macOf(id, data))
      // Fail closed: a row that does not carry this token's MAC is no session.
      if (dot <= 0 || mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined
      let parsed: z.infer<typeof stored>
      try {
        parsed = stored.parse(JSON.parse(data))
      } catch {
        return undefined
      }
      if (parsed.exp <= t) return undefined
      return { id, claims: parsed.c as LinkClaims, csrf: csrfOf(id), expiresAt: parsed.exp }
    },
    /** Sign out everywhere: every instance reads the store on each request. */
    destroy(id: string): Promise<void> {
      return store.revoke(id)
    },
  }
}

export type PortalSessions = ReturnType<typeof createPortalSessions>

/** Constant-time check of a submitted CSRF token against the session's. */
export function csrfMatches(session: Session, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false
  const a = Buffer.from(submitted)
  const b = Buffer.from(session.csrf)
  return a.length === b.length && timingSafeEqual(a, b)
}

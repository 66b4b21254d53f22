import type { IncomingMessage, ServerResponse } from 'node:http'
import { ConfigurationError } from '@sigil/core'
import { checkOptions, optionNames } from '@sigil/core/internal'
import type { KeyStore } from '@sigil/keys'
import { createVerifier, type VerifyOptions } from '@sigil/server'
import { createApiHandler } from './api.js'
import { type AuditLog, createMemoryAuditLog } from './audit.js'
import { createDashboard, sendErrorPage } from './dashboard.js'
import { type Announce, createKeyService, type UsageSource } from './service.js'
import { createPortalSessions } from './sessions.js'

/** Options of {@link createAdmin}. */
export interface AdminOptions {
  /**
   * The key store the portal manages (and verifies admin API clients against). Sign-in sessions
   * and spent sign-in links live in it too (`store.sessions`: SQLite, PostgreSQL), so any number
   * of portal instances on one database serve one operator; a store without them keeps sessions
   * in this process.
   */
  store: KeyStore
  /** Signs sign-in and invite links: `deriveAdminSecret(SIGIL_MASTER_KEY)`. At least 32 bytes. */
  adminSecret: Uint8Array
  /**
   * Audit log. Default, and always when the store keeps one (every store of `@sigil/keys`): the
   * key store's own log, written in the transaction of each key change, shared with the CLI and
   * library writes. A log given here then receives copies. Otherwise: in memory.
   */
  audit?: AuditLog
  /** Tell other instances about revocations, rotations and scope changes (e.g. Redis pub/sub). */
  announce?: Announce
  /** Per-day usage (e.g. `@sigil/redis` `getUsage`). Without it, usage reads as empty. */
  usage?: UsageSource
  /** Public origin (`https://keys.example.com`): invite links use it; `https` makes cookies Secure. */
  publicUrl?: string
  /** Extra options for verifying admin API requests (nonce store, authority, window). */
  verify?: Omit<VerifyOptions, 'keys' | 'requiredScopes'>
  now?: () => number
}

const ADMIN_OPTION_NAMES = optionNames<AdminOptions>({
  store: true,
  adminSecret: true,
  audit: true,
  announce: true,
  usage: true,
  publicUrl: true,
  verify: true,
  now: true,
})

/**
 * The developer portal as a `node:http` request listener: the admin API under `/api/v1`
 * (Sigil-signed, `admin` scope) and the dashboard everywhere else (one-time sign-in links).
 *
 * @example
 * ```ts
 * const admin = createAdmin({ store, adminSecret: deriveAdminSecret(process.env.SIGIL_MASTER_KEY!) })
 * createServer(admin.handler).listen(8080, '127.0.0.1')
 * ```
 */
export function createAdmin(o: AdminOptions) {
  checkOptions('admin options', o, ADMIN_OPTION_NAMES)
  if (!(o.adminSecret instanceof Uint8Array) || o.adminSecret.length < 32)
    throw new ConfigurationError('adminSecret must be at least 32 bytes (deriveAdminSecret(SIGIL_MASTER_KEY))')
  const audit = o.audit ?? createMemoryAuditLog()
  const service = createKeyService({
    store: o.store,
    audit,
    ...(o.announce ? { announce: o.announce } : {}),
    ...(o.usage ? { usage: o.usage } : {}),
    ...(o.now ? { now: o.now } : {}),
  })
  const verifier = createVerifier({ ...o.verify, keys: o.store, ...(o.now ? { now: o.now } : {}) })
  const api = createApiHandler({ service, verifier, ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}) })
  // In the key store when it keeps sessions (SQLite, PostgreSQL: every instance on the database
  // shares them), else in this process.
  const sessions = createPortalSessions({
    adminSecret: o.adminSecret,
    ...(o.store.sessions ? { store: o.store.sessions } : {}),
    ...(o.now ? { now: o.now } : {}),
  })
  const secureCookies = o.publicUrl?.startsWith('https:') ?? false
  const dashboard = createDashboard({ service, sessions, adminSecret: o.adminSecret, secureCookies, ...(o.now ? { now: o.now } : {}) })

  async function handler(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin.invalid')
    const origin = o.publicUrl ?? `http://${req.headers.host ?? '127.0.0.1'}`
    try {
      if (url.pathname.startsWith('/api/')) await api(req, res, url.pathname, url.searchParams)
      else await dashboard(req, res, url.pathname, url.searchParams, origin)
    } catch (e) {
      if (!res.headersSent) sendErrorPage(res, e)
      else res.destroy()
    }
  }
  return { handler, service, sessions, close: () => audit.close() }
}

export type Admin = ReturnType<typeof createAdmin>

import { ConfigurationError, SigilError } from '@sigil/core'
import {
  authorizeKeyAccess,
  FULL_GRANT,
  KEY_CHANGE_PROPAGATION,
  type KeyGrant,
  type KeyInfo,
  type KeyStore,
  type KeyUpdate,
} from '@sigil/keys'
import type { AuditEvent, AuditLog } from './audit.js'
import type { LinkClaims } from './links.js'

/** How a change reaches other instances (e.g. `publishKeyChange` on Redis). Failures are reported, not thrown. */
export type Announce = (change: {
  type: 'revoked' | 'rotated' | 'scopes' | 'expired' | 'updated'
  keyId: string
  replacedBy?: string
}) => Promise<void>

/** Usage per key per day, e.g. `getUsage` of `@sigil/redis` bound to a client. */
export type UsageSource = (
  keyId: string,
  range: { from?: string; to?: string },
) => Promise<{
  keyId: string
  from: string
  to: string
  days: Array<{ date: string; accepted: number; rejected: Record<string, number>; lastUsedAt?: Date }>
  /** `lastUsedAt`: the latest accepted request signed with the key in the range. */
  totals: { accepted: number; rejected: Record<string, number>; lastUsedAt?: Date }
}>

/** Who is acting: an API client (admin key), the operator, or a partner limited to one principal. */
export type Actor = { kind: 'key'; keyId: string } | { kind: 'session'; claims: LinkClaims }

/** A refusal the API and the dashboard both show: problem+json with a stable code. */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'AdminError'
  }
}

/** The audit log's name for an actor: `key:<keyId>`, `operator:<name>` (or `operator`), `partner:<principal>`. */
export const actorName = (a: Actor): string =>
  a.kind === 'key'
    ? `key:${a.keyId}`
    : a.claims.role === 'operator'
      ? a.claims.name
        ? `operator:${a.claims.name}`
        : 'operator'
      : `partner:${a.claims.principal}`

/**
 * The key store's own audit log (its outbox) as an {@link AuditLog}: key changes are written by
 * the store in their own transaction, so the portal, the CLI and the library share one complete log.
 */
export function storeAuditLog(store: KeyStore): AuditLog | undefined {
  const { events, appendEvent } = store
  if (!events || !appendEvent) return undefined
  return {
    recordsKeyChanges: true,
    append: (e) => appendEvent.call(store, e) as Promise<AuditEvent>,
    list: (q = {}) => events.call(store, { limit: Math.min(q.limit ?? 50, 500), ...q }) as Promise<AuditEvent[]>,
    close: async () => {},
  }
}

const partnerOf = (a: Actor) => (a.kind === 'session' && a.claims.role === 'partner' ? a.claims : undefined)

/** The scope of `/api/v1` clients: the operator's authority, so no partner can ever be granted it. */
export const ADMIN_SCOPE = 'admin'

/**
 * What an actor may do to keys, as the store's one authorization rule (`KeyGrant` of
 * `@sigil/keys`) takes it: the operator and `admin` API keys hold the operator's authority; a
 * partner acts for its own principal, grants only its invite's scopes (never `admin`), keeps at
 * most `maxKeys` working keys (keys in a rotation grace count), may shorten a key's life but
 * not extend it, and changes no rate limits or metadata.
 */
export function grantOf(actor: Actor): KeyGrant {
  const p = partnerOf(actor)
  if (!p) return FULL_GRANT
  return {
    principal: p.principal,
    scopes: p.allowedScopes.filter((s) => s !== ADMIN_SCOPE),
    maxKeys: p.maxKeys,
    extendExpiry: false,
    editLimits: false,
  }
}

/** Days read for a key's "last used" in the keys list: the detail page's usage range. */
export const LAST_USED_DAYS = 30

/** How many of a principal's latest audit events the key detail's history reads. */
const HISTORY_SCAN = 500

const GRANT_CODES = new Set(['PRINCIPAL_NOT_ALLOWED', 'SCOPE_NOT_ALLOWED', 'EXPIRY_NOT_ALLOWED', 'LIMITS_NOT_ALLOWED', 'KEY_LIMIT'])

/**
 * A store refusal as the portal answers it: a 4xx naming the field or the state, never a 500 or
 * a verifier's 401 (rotating a revoked key is 409 KEY_REVOKED here, not "unauthorized").
 */
function refusal(e: unknown): unknown {
  if (e instanceof SigilError) {
    if (GRANT_CODES.has(e.code)) return new AdminError(e.status, e.code, e.message)
    if (e.code === 'KEY_UNKNOWN') return new AdminError(404, 'KEY_UNKNOWN', 'no such key')
    if (e.code === 'KEY_REVOKED' || e.code === 'KEY_EXPIRED' || e.code === 'KEY_CONFLICT') return new AdminError(409, e.code, e.message)
    // Input the store's schemas refused (`invalid key options: metadata: …`): the field is named.
    if (e instanceof ConfigurationError && e.message.startsWith('invalid ')) return new AdminError(400, 'INVALID_REQUEST', e.message)
  }
  return e
}

/** Run a store call, answering its refusals as portal errors. */
async function store<T>(p: Promise<T>): Promise<T> {
  try {
    return await p
  } catch (e) {
    throw refusal(e)
  }
}

const latest = (ds: ReadonlyArray<Date | undefined>): Date | undefined =>
  ds.reduce<Date | undefined>((a, d) => (d && (!a || d > a) ? d : a), undefined)

const ISO_INSTANT = /^(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/

/**
 * An ISO 8601 instant typed into a form or a body, or a 400 naming the field. A date that does
 * not exist (February 31st) is refused, not rolled over into March as `Date` would.
 */
export function instantOf(field: string, value: string): Date {
  const m = ISO_INSTANT.exec(value)
  const d = new Date(value)
  const real = m && Number.isFinite(d.getTime()) && new Date(`${m[1]}T00:00:00Z`).toISOString().startsWith(m[1] as string)
  if (!real) throw new AdminError(400, 'INVALID_REQUEST', `${field}: not a date and time (ISO 8601, e.g. 2030-01-31T12:00Z)`)
  return d
}

/** Longest list cursor (a key id): longer is a 400 naming `after`, never a store error. */
const MAX_CURSOR = 128

/** JSON view of a key: ISO dates, never the secret. */
export function keyJson(k: KeyInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {
    keyId: k.keyId,
    principal: k.principal,
    scopes: [...k.scopes],
    status: k.status,
    createdAt: k.createdAt.toISOString(),
  }
  if (k.expiresAt) out.expiresAt = k.expiresAt.toISOString()
  if (k.notAfter) out.notAfter = k.notAfter.toISOString()
  if (k.revokedAt) out.revokedAt = k.revokedAt.toISOString()
  if (k.replacedBy) out.replacedBy = k.replacedBy
  if (k.version !== undefined) out.version = k.version
  if (k.rateLimits) out.rateLimits = k.rateLimits
  if (k.metadata) out.metadata = k.metadata
  if (k.test) out.test = true
  return out
}

export function eventJson(e: AuditEvent): Record<string, unknown> {
  return { ...e, at: e.at.toISOString() }
}

/**
 * The portal's operations, shared by the HTTP API and the dashboard. Authorization is the key
 * store's one rule ({@link grantOf} → `KeyGrant`), passed with every call that reads or changes a
 * key: a partner sees and changes only its own principal's keys (anything else is "not found",
 * so key ids of other principals are not revealed), within the scopes, key count and expiry its
 * invite allows — on create, rotate and every edit alike.
 */
export function createKeyService(o: { store: KeyStore; audit: AuditLog; announce?: Announce; usage?: UsageSource; now?: () => number }) {
  const keys = o.store
  // One audit log: the store's outbox when it has one (key changes land there with the change,
  // whoever makes them: portal, CLI, library). A separately given log then receives copies.
  const audit = storeAuditLog(keys) ?? o.audit
  const mirror = audit === o.audit ? undefined : o.audit
  const now = o.now ?? Date.now
  // Writes go through the store as the actor, so the store's event names who made the change.
  const as = (actor: Actor): KeyStore => keys.as?.(actorName(actor)) ?? keys

  async function owned(actor: Actor, keyId: string): Promise<KeyInfo> {
    const k = await keys.info(keyId)
    if (!k) throw new AdminError(404, 'KEY_UNKNOWN', 'no such key')
    try {
      authorizeKeyAccess(grantOf(actor), k.principal)
    } catch (e) {
      throw refusal(e)
    }
    return k
  }

  async function announce(change: Parameters<Announce>[0]): Promise<string | undefined> {
    if (!o.announce) return undefined
    try {
      await o.announce(change)
      return undefined
    } catch {
      return `the change is stored, but other instances were not told; ${KEY_CHANGE_PROPAGATION}`
    }
  }

  const record = async (
    actor: Actor,
    action: AuditEvent['action'],
    k: { keyId: string; principal: string },
    detail?: Record<string, unknown>,
  ) => {
    const e = { actor: actorName(actor), action, keyId: k.keyId, principal: k.principal, ...(detail ? { detail } : {}) }
    if (!audit.recordsKeyChanges) await audit.append(e)
    if (mirror) await mirror.append(e)
  }

  const dayOf = (t: number) => new Date(t).toISOString().slice(0, 10)

  return {
    /**
     * When a key change reaches other instances: at once when announced, otherwise within the
     * key-cache TTL (the CLI's words, `KEY_CHANGE_PROPAGATION`). Undefined: at once.
     */
    propagation(announceFailed = false): string | undefined {
      if (!o.announce) return `This portal announces no changes (no fan-out): ${KEY_CHANGE_PROPAGATION}.`
      return announceFailed ? `Other instances were not told (the announcement failed): ${KEY_CHANGE_PROPAGATION}.` : undefined
    },

    /** Whether the portal reads usage (last use, the chart); without a source both read as empty. */
    hasUsage: o.usage !== undefined,

    async create(
      actor: Actor,
      input: {
        principal: string
        scopes?: string[]
        expiresAt?: string
        rateLimits?: KeyInfo['rateLimits']
        metadata?: Record<string, unknown>
        test?: boolean
      },
    ) {
      const created = await store(
        as(actor).create(
          {
            principal: input.principal,
            ...(input.scopes ? { scopes: input.scopes } : {}),
            ...(input.expiresAt ? { expiresAt: instantOf('expiresAt', input.expiresAt) } : {}),
            ...(input.rateLimits ? { rateLimits: input.rateLimits } : {}),
            ...(input.metadata ? { metadata: input.metadata } : {}),
            ...(input.test ? { test: true } : {}),
          },
          { grant: grantOf(actor) },
        ),
      )
      await record(actor, 'key.create', created.key, { scopes: created.key.scopes })
      return { keyId: created.keyId, token: created.token, key: keyJson(created.key) }
    },

    async list(
      actor: Actor,
      q: { principal?: string; status?: 'active' | 'revoked' | 'expired'; q?: string; limit?: number; after?: string },
    ) {
      const principal = grantOf(actor).principal ?? q.principal
      if (q.after !== undefined && q.after.length > MAX_CURSOR)
        throw new AdminError(400, 'INVALID_REQUEST', `after: a cursor is a key id, at most ${MAX_CURSOR} characters`)
      const limit = q.limit ?? 50
      const needle = q.q?.toLowerCase()
      // Pages come from the store, ordered by key id, filters in the database; a search term is
      // applied on top, reading further pages until this one is full.
      const batchSize = needle ? 500 : limit + 1
      const items: KeyInfo[] = []
      let after = q.after
      let more = false
      for (;;) {
        const batch = await keys.list({
          ...(principal ? { principal } : {}),
          ...(q.status ? { status: q.status } : {}),
          limit: batchSize,
          ...(after ? { after } : {}),
        })
        for (const k of batch) {
          if (needle && !k.keyId.toLowerCase().includes(needle) && !k.principal.toLowerCase().includes(needle)) continue
          if (items.length === limit) {
            more = true
            break
          }
          items.push(k)
        }
        if (more || batch.length < batchSize) break
        after = (batch[batch.length - 1] as KeyInfo).keyId
      }
      return { items: items.map(keyJson), ...(more ? { next: (items[items.length - 1] as KeyInfo).keyId } : {}) }
    },

    async get(actor: Actor, keyId: string) {
      return keyJson(await owned(actor, keyId))
    },

    async update(actor: Actor, keyId: string, body: Omit<KeyUpdate, 'expiresAt'> & { expiresAt?: string | null; ifVersion?: number }) {
      await owned(actor, keyId)
      const { ifVersion, expiresAt, ...rest } = body
      const changes: KeyUpdate = {
        ...rest,
        ...(expiresAt !== undefined ? { expiresAt: expiresAt === null ? null : instantOf('expiresAt', expiresAt) } : {}),
      }
      // Scopes added, a later expiry, limits: the store checks them against the row it changes.
      const k = await store(as(actor).update(keyId, changes, { grant: grantOf(actor), ...(ifVersion !== undefined ? { ifVersion } : {}) }))
      const warnings: string[] = []
      // Every change that can alter a verify outcome (scopes, expiry, rate limits) reaches other instances.
      const type = body.scopes || body.addScopes || body.removeScopes ? 'scopes' : expiresAt !== undefined ? 'expired' : 'updated'
      const w = await announce({ type, keyId })
      if (w) warnings.push(w)
      await record(actor, 'key.update', k, body as Record<string, unknown>)
      return { key: keyJson(k), warnings }
    },

    async rotate(actor: Actor, keyId: string, body: { graceMs?: number }) {
      await owned(actor, keyId)
      // The same checks as create (scopes, the count with keys in grace, no later expiry): in the store.
      const r = await store(
        as(actor).rotate(keyId, { grant: grantOf(actor), ...(body.graceMs !== undefined ? { graceMs: body.graceMs } : {}) }),
      )
      await record(actor, 'key.rotate', r.previous, { replacedBy: r.keyId, graceMs: body.graceMs ?? 86_400_000 })
      const w = await announce({ type: 'rotated', keyId, replacedBy: r.keyId })
      return { keyId: r.keyId, token: r.token, key: keyJson(r.key), previous: keyJson(r.previous), warnings: w ? [w] : [] }
    },

    async revoke(actor: Actor, keyId: string) {
      await owned(actor, keyId)
      const k = await store(as(actor).revoke(keyId, { grant: grantOf(actor) }))
      await record(actor, 'key.revoke', k)
      const w = await announce({ type: 'revoked', keyId })
      return { key: keyJson(k), warnings: w ? [w] : [] }
    },

    async usage(actor: Actor, keyId: string, range: { from?: string; to?: string }) {
      await owned(actor, keyId)
      if (!o.usage) {
        const today = dayOf(now())
        return { keyId, from: range.from ?? today, to: range.to ?? today, days: [], totals: { accepted: 0, rejected: {} } }
      }
      const r = await o.usage(keyId, range)
      const last = r.totals.lastUsedAt ?? latest(r.days.map((d) => d.lastUsedAt))
      return {
        keyId: r.keyId,
        from: r.from,
        to: r.to,
        days: r.days.map((d) => ({ date: d.date, accepted: d.accepted, rejected: d.rejected })),
        totals: { accepted: r.totals.accepted, rejected: r.totals.rejected, ...(last ? { lastUsedAt: last.toISOString() } : {}) },
      }
    },

    /**
     * The latest accepted request of each key in the last {@link LAST_USED_DAYS} days (ISO), from the usage
     * source: absent when unused in that range, or when the portal has no usage source. A partner
     * asking about another principal's key gets 404, as everywhere.
     */
    async lastUsed(actor: Actor, keyIds: readonly string[]): Promise<Map<string, string>> {
      const out = new Map<string, string>()
      const source = o.usage
      if (!source) return out
      if (grantOf(actor).principal !== undefined) await Promise.all(keyIds.map((id) => owned(actor, id)))
      const range = { from: dayOf(now() - (LAST_USED_DAYS - 1) * 86_400_000), to: dayOf(now()) }
      await Promise.all(
        keyIds.map(async (keyId) => {
          const r = await source(keyId, range)
          const last = r.totals.lastUsedAt ?? latest(r.days.map((d) => d.lastUsedAt))
          if (last) out.set(keyId, last.toISOString())
        }),
      )
      return out
    },

    /**
     * A key's history, newest first: the audit events naming it, and the rotation that created
     * it, among the latest events of its principal. Who did what comes from the store's log.
     */
    async history(actor: Actor, keyId: string, limit = 20) {
      const k = await owned(actor, keyId)
      const items = await audit.list({ limit: HISTORY_SCAN, principal: k.principal })
      return items
        .filter((e) => e.keyId === keyId || e.detail?.replacedBy === keyId)
        .slice(0, limit)
        .map(eventJson)
    },

    async events(actor: Actor, q: { limit?: number; before?: number }) {
      const p = partnerOf(actor)
      const limit = q.limit ?? 50
      const items = await audit.list({ limit, ...(q.before ? { before: q.before } : {}), ...(p ? { principal: p.principal } : {}) })
      return { items: items.map(eventJson), ...(items.length === limit ? { next: (items[items.length - 1] as AuditEvent).id } : {}) }
    },

    audit,
  }
}

export type KeyService = ReturnType<typeof createKeyService>

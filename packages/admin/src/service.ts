import type { KeyInfo, KeyStore, KeyUpdate } from '@sigil/keys'
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
  days: Array<{ date: string; accepted: number; rejected: Record<string, number> }>
  totals: { accepted: number; rejected: Record<string, number> }
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
  return out
}

export function eventJson(e: AuditEvent): Record<string, unknown> {
  return { ...e, at: e.at.toISOString() }
}

/**
 * The portal's operations, shared by the HTTP API and the dashboard, with authorization in one
 * place: a partner sees and changes only its own principal's keys (anything else is "not found",
 * so key ids of other principals are not revealed), within the scopes and key count its invite set.
 */
export function createKeyService(o: { store: KeyStore; audit: AuditLog; announce?: Announce; usage?: UsageSource; now?: () => number }) {
  const { store } = o
  // One audit log: the store's outbox when it has one (key changes land there with the change,
  // whoever makes them: portal, CLI, library). A separately given log then receives copies.
  const audit = storeAuditLog(store) ?? o.audit
  const mirror = audit === o.audit ? undefined : o.audit
  const now = o.now ?? Date.now
  // Writes go through the store as the actor, so the store's event names who made the change.
  const as = (actor: Actor): KeyStore => store.as?.(actorName(actor)) ?? store

  async function owned(actor: Actor, keyId: string): Promise<KeyInfo> {
    const k = await store.info(keyId)
    const p = partnerOf(actor)
    if (!k || (p && k.principal !== p.principal)) throw new AdminError(404, 'KEY_UNKNOWN', 'no such key')
    return k
  }

  function checkScopes(actor: Actor, scopes: readonly string[]): void {
    const p = partnerOf(actor)
    if (!p) return
    for (const s of scopes)
      if (!p.allowedScopes.includes(s)) throw new AdminError(403, 'SCOPE_NOT_ALLOWED', `scope ${s} is not allowed for this partner`)
  }

  async function announce(change: Parameters<Announce>[0]): Promise<string | undefined> {
    if (!o.announce) return undefined
    try {
      await o.announce(change)
      return undefined
    } catch {
      return 'the change is stored, but other instances were not told; they see it when their key cache expires'
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

  return {
    async create(
      actor: Actor,
      input: {
        principal: string
        scopes?: string[]
        expiresAt?: string
        rateLimits?: KeyInfo['rateLimits']
        metadata?: Record<string, unknown>
      },
    ) {
      const p = partnerOf(actor)
      if (p && input.principal !== p.principal)
        throw new AdminError(403, 'PRINCIPAL_NOT_ALLOWED', 'partners create keys for their own principal only')
      checkScopes(actor, input.scopes ?? [])
      if (p) {
        const active = (await store.list({ principal: p.principal, status: 'active' })).length
        if (active >= p.maxKeys) throw new AdminError(409, 'KEY_LIMIT', `at most ${p.maxKeys} active keys`)
      }
      const created = await as(actor).create({
        principal: input.principal,
        ...(input.scopes ? { scopes: input.scopes } : {}),
        ...(input.expiresAt ? { expiresAt: new Date(input.expiresAt) } : {}),
        ...(input.rateLimits ? { rateLimits: input.rateLimits } : {}),
        ...(input.metadata ? { metadata: input.metadata } : {}),
      })
      await record(actor, 'key.create', created.key, { scopes: created.key.scopes })
      return { keyId: created.keyId, token: created.token, key: keyJson(created.key) }
    },

    async list(
      actor: Actor,
      q: { principal?: string; status?: 'active' | 'revoked' | 'expired'; q?: string; limit?: number; after?: string },
    ) {
      const p = partnerOf(actor)
      const principal = p ? p.principal : q.principal
      const limit = q.limit ?? 50
      const needle = q.q?.toLowerCase()
      // Pages come from the store, ordered by key id, filters in the database; a search term is
      // applied on top, reading further pages until this one is full.
      const batchSize = needle ? 500 : limit + 1
      const items: KeyInfo[] = []
      let after = q.after
      let more = false
      for (;;) {
        const batch = await store.list({
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
      checkScopes(actor, [...(body.scopes ?? []), ...(body.addScopes ?? [])])
      if (partnerOf(actor) && (body.rateLimits !== undefined || body.metadata !== undefined || body.mergeMetadata)) {
        throw new AdminError(403, 'FORBIDDEN', 'partners change scopes and expiry only')
      }
      const { ifVersion, expiresAt, ...rest } = body
      const changes: KeyUpdate = {
        ...rest,
        ...(expiresAt !== undefined ? { expiresAt: expiresAt === null ? null : new Date(expiresAt) } : {}),
      }
      let k: KeyInfo
      try {
        k = await as(actor).update(keyId, changes, ifVersion !== undefined ? { ifVersion } : {})
      } catch (e) {
        if ((e as { code?: string }).code === 'KEY_CONFLICT')
          throw new AdminError(409, 'KEY_CONFLICT', 'the key changed since that version')
        throw e
      }
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
      const r = await as(actor).rotate(keyId, body.graceMs !== undefined ? { graceMs: body.graceMs } : {})
      await record(actor, 'key.rotate', r.previous, { replacedBy: r.keyId, graceMs: body.graceMs ?? 86_400_000 })
      const w = await announce({ type: 'rotated', keyId, replacedBy: r.keyId })
      return { keyId: r.keyId, token: r.token, key: keyJson(r.key), previous: keyJson(r.previous), warnings: w ? [w] : [] }
    },

    async revoke(actor: Actor, keyId: string) {
      await owned(actor, keyId)
      const k = await as(actor).revoke(keyId)
      await record(actor, 'key.revoke', k)
      const w = await announce({ type: 'revoked', keyId })
      return { key: keyJson(k), warnings: w ? [w] : [] }
    },

    async usage(actor: Actor, keyId: string, range: { from?: string; to?: string }) {
      await owned(actor, keyId)
      if (!o.usage) {
        const today = new Date(now()).toISOString().slice(0, 10)
        return { keyId, from: range.from ?? today, to: range.to ?? today, days: [], totals: { accepted: 0, rejected: {} } }
      }
      const r = await o.usage(keyId, range)
      return {
        keyId: r.keyId,
        from: r.from,
        to: r.to,
        days: r.days.map((d) => ({ date: d.date, accepted: d.accepted, rejected: d.rejected })),
        totals: { accepted: r.totals.accepted, rejected: r.totals.rejected },
      }
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

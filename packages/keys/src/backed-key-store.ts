import { ConfigurationError, type KeyRecord, type KeyStatus, SigilError } from '@sigil/core'
import { checkOptions, optionNames, zodOptionsError } from '@sigil/core/internal'
import { z } from 'zod'
import { createKeyInputSchema, generateKey, KEY_RENAMES, metadataSchema, scopesSchema } from './generate-key.js'
import type { KeyBackend, KeyCountLimit, NewKeyEvent, StoredKey, StoredKeyPatch } from './key-backend.js'
import { authorizeKeyAccess, authorizeKeyChange, authorizeNewKey, type KeyGrant, keyLimitError, parseKeyGrant } from './key-grant.js'
import type {
  CreateKeyInput,
  EncryptedKeyStore,
  KeyChangeEvent,
  KeyChangeListener,
  KeyGrantOptions,
  KeyInfo,
  KeyUpdate,
  ListKeysFilter,
  MasterKeyRotation,
  RotatedKey,
  RotateOptions,
  UpdateKeyOptions,
} from './key-store.js'
import { type MasterKeyRing, parseMasterKey } from './master-key.js'
import { checkRecordMac, recordMac } from './record-mac.js'
import { openSecret, type SealedSecret, sealSecret } from './secret-box.js'
import { defaultActor, type StoreOptions, storeOptionsSchema } from './store-options.js'

const backedStoreOptionsSchema = storeOptionsSchema.extend({ requireMasterKey: z.boolean().optional() })
const ROTATE_OPTION_NAMES = optionNames<RotateOptions>({ graceMs: true, expiresAt: true, grant: true })
const UPDATE_OPTION_NAMES = optionNames<UpdateKeyOptions>({ ifVersion: true, grant: true })
const CREATE_OPTION_NAMES = optionNames<KeyGrantOptions>({ grant: true })

/** Default rotation grace: a day, long enough to roll a deploy. */
export const DEFAULT_GRACE_MS = 24 * 60 * 60 * 1000

const PLAIN = 'plain'

const listFilterSchema = z
  .object({
    principal: z.string().min(1).max(256).optional(),
    status: z.enum(['active', 'revoked', 'expired']).optional(),
    limit: z.number().int().min(1).max(10_000).optional(),
    after: z.string().min(1).max(256).optional(),
  })
  .strict()

function conflict(keyId: string, expected: number, actual: number): SigilError {
  return new SigilError(
    'KEY_CONFLICT',
    `key ${keyId} is at version ${actual}, not ${expected}: it changed since it was read; read it again and retry`,
  )
}

function effectiveStatus(row: StoredKey, now: Date): KeyStatus {
  if (row.status === 'revoked') return 'revoked'
  const t = now.getTime()
  if ((row.expiresAt && row.expiresAt.getTime() <= t) || (row.notAfter && row.notAfter.getTime() <= t)) return 'expired'
  return 'active'
}

function toInfo(row: StoredKey, now: Date, encrypted: boolean): KeyInfo {
  return {
    keyId: row.keyId,
    principal: row.principal,
    scopes: row.scopes,
    status: effectiveStatus(row, now),
    createdAt: row.createdAt,
    algorithm: 'hmac-sha256',
    ...(row.expiresAt ? { expiresAt: row.expiresAt } : {}),
    ...(row.notAfter ? { notAfter: row.notAfter } : {}),
    ...(row.revokedAt ? { revokedAt: row.revokedAt } : {}),
    ...(row.replacedBy ? { replacedBy: row.replacedBy } : {}),
    ...(row.rateLimits ? { rateLimits: row.rateLimits } : {}),
    ...(row.metadata ? { metadata: row.metadata } : {}),
    ...(row.test ? { test: true as const } : {}),
    ...(encrypted ? { masterKeyVersion: row.sealed.version } : {}),
    version: row.version,
  }
}

function unknownKey(): SigilError {
  return new SigilError('KEY_UNKNOWN', 'no key with that id')
}

// Compare-and-set retries under contention; each attempt re-reads the row. Far more than any
// realistic number of concurrent admins editing one key needs.
const CAS_ATTEMPTS = 50
const pause = (attempt: number) => new Promise((r) => setTimeout(r, Math.random() * Math.min(2 ** attempt, 50)))

const keyUpdateSchema = z
  .object({
    scopes: scopesSchema.optional(),
    addScopes: scopesSchema.optional(),
    removeScopes: scopesSchema.optional(),
    expiresAt: z.date().nullable().optional(),
    rateLimits: z.unknown().optional(),
    metadata: metadataSchema.nullable().optional(),
    mergeMetadata: metadataSchema.optional(),
  })
  .strict()
  .refine(
    (u) => u.scopes === undefined || (u.addScopes === undefined && u.removeScopes === undefined),
    'scopes replaces; not with addScopes/removeScopes',
  )
  .refine((u) => u.metadata === undefined || u.mergeMetadata === undefined, 'metadata replaces; not with mergeMetadata')

/** The patch an update makes to `row` as it is now, or undefined if nothing changes. */
function updatePatch(row: StoredKey, u: KeyUpdate, at: Date): StoredKeyPatch {
  const p: StoredKeyPatch = { updatedAt: at }
  if (u.scopes !== undefined) p.scopes = [...new Set(u.scopes)]
  if (u.addScopes !== undefined || u.removeScopes !== undefined) {
    const remove = new Set(u.removeScopes ?? [])
    p.scopes = [...new Set([...row.scopes, ...(u.addScopes ?? [])])].filter((s) => !remove.has(s))
  }
  if (u.expiresAt !== undefined) p.expiresAt = u.expiresAt
  if (u.rateLimits !== undefined) p.rateLimits = u.rateLimits
  if (u.metadata !== undefined) p.metadata = u.metadata
  if (u.mergeMetadata !== undefined) {
    const next: Record<string, unknown> = { ...(row.metadata ?? {}) }
    for (const [k, v] of Object.entries(u.mergeMetadata)) {
      if (v === null) delete next[k]
      else next[k] = v
    }
    p.metadata = Object.keys(next).length ? next : null
  }
  return p
}

/** `row` as `patch` leaves it (`null` clears a field), without the version bump. */
function applyPatch(row: StoredKey, patch: StoredKeyPatch): StoredKey {
  const next: Record<string, unknown> = { ...row }
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete next[k]
    else if (v !== undefined) next[k] = v
  }
  return next as unknown as StoredKey
}

// Audit detail of a change: field names and values as JSON (dates ISO), never a secret.
const detailOf = (o: object): Record<string, unknown> => JSON.parse(JSON.stringify(o))

// The store's `emit`, for store-specific admin operations (restore) defined outside this file.
const emitters = new WeakMap<object, (event: KeyChangeEvent) => void>()

/** Tell a backed store's change listeners (its cache, fan-out) about changes made around it (a restore). @internal */
export function emitKeyChange(store: object, event: KeyChangeEvent): void {
  emitters.get(store)?.(event)
}

function eventOf(p: StoredKeyPatch): KeyChangeEvent['type'] {
  const fields = Object.keys(p).filter((k) => k !== 'updatedAt' && k !== 'mac')
  if (fields.length === 1 && fields[0] === 'scopes') return 'scopes'
  if (fields.length === 1 && fields[0] === 'expiresAt') return 'expired'
  return 'updated'
}

const actorZod = z.string().min(1).max(256)
const actorSchema = (who: string): string => {
  const a = actorZod.safeParse(who)
  if (!a.success) throw zodOptionsError('actor', a.error, actorZod)
  return a.data
}

const eventQuerySchema = z
  .object({
    limit: z.number().int().min(1).max(500).optional(),
    before: z.number().int().min(1).optional(),
    principal: z.string().min(1).max(256).optional(),
  })
  .strict()

/**
 * A {@link KeyStore} over any {@link KeyBackend}: validation, key generation, AES-256-GCM
 * encryption, effective status, rotation and change events live here once, so every backend
 * behaves the same. With `requireMasterKey` (persistent backends) a missing master key is a
 * `ConfigurationError` at construction.
 *
 * @example
 * ```ts
 * const store = createBackedKeyStore(backend, { masterKey: process.env.SIGIL_MASTER_KEY, requireMasterKey: true })
 * ```
 */
export function createBackedKeyStore(backend: KeyBackend, options: StoreOptions & { requireMasterKey?: boolean }): EncryptedKeyStore {
  const parsed = backedStoreOptionsSchema.safeParse(options)
  if (!parsed.success) throw zodOptionsError('key store options', parsed.error, backedStoreOptionsSchema)
  const ring: MasterKeyRing | undefined =
    options.masterKey !== undefined || options.requireMasterKey ? parseMasterKey(options.masterKey) : undefined
  const clock = options.now ?? Date.now
  const now = () => new Date(clock())
  const defaultGrace = options.defaultGraceMs ?? DEFAULT_GRACE_MS
  const listeners = new Set<KeyChangeListener>()

  const seal = (keyId: string, secret: Uint8Array): SealedSecret =>
    ring ? sealSecret(ring, keyId, secret) : { version: PLAIN, data: secret.slice() }
  // Every row is checked against its record MAC before anything reads its fields (get, info,
  // list, edits): a field changed without the master key fails closed, naming the key id.
  const check = (row: StoredKey): StoredKey => {
    if (ring) checkRecordMac(ring, row, row.mac)
    return row
  }
  const macOf = (row: StoredKey): Uint8Array | undefined => (ring ? recordMac(ring, row) : undefined)
  const open = (row: StoredKey): Uint8Array => {
    if (row.sealed.version === PLAIN && !ring) return row.sealed.data
    if (!ring) throw new ConfigurationError(`key ${row.keyId} is encrypted and no master key is configured`)
    return openSecret(ring, row.keyId, row.sealed)
  }
  const emit = (type: KeyChangeEvent['type'], keyId: string, at: Date, replacedBy?: string) =>
    emitEvent({ type, keyId, at, ...(replacedBy ? { replacedBy } : {}) })
  const emitEvent = (event: KeyChangeEvent) => {
    for (const l of listeners) {
      try {
        l(event)
      } catch {
        // A listener cannot undo a committed change; one failing must not starve the others.
      }
    }
  }
  const info = (row: StoredKey, at = now()) => toInfo(row, at, ring !== undefined)
  /** The key count a grant asks the backend to enforce with the write, if any. */
  const limitOf = (grant: KeyGrant, principal: string, at: Date): KeyCountLimit | undefined => {
    if (grant.maxKeys === undefined) return undefined
    // Fail closed: a backend that cannot count atomically must not silently skip the count.
    if (backend.keyLimits !== true) throw new ConfigurationError('this key backend cannot enforce a key count (keyLimits)')
    return { principal, max: grant.maxKeys, now: at }
  }
  const issue = (input: CreateKeyInput, at: Date) => {
    const parsedInput = createKeyInputSchema.safeParse(input)
    if (!parsedInput.success) throw zodOptionsError('key options', parsedInput.error, createKeyInputSchema, KEY_RENAMES)
    const g = generateKey({ ...(parsedInput.data as CreateKeyInput), now: () => at.getTime() })
    const row: StoredKey = {
      keyId: g.keyId,
      principal: g.record.principal,
      scopes: [...g.record.scopes],
      status: 'active',
      createdAt: at,
      updatedAt: at,
      version: 0,
      ...(g.record.expiresAt ? { expiresAt: g.record.expiresAt } : {}),
      ...(g.record.rateLimits ? { rateLimits: g.record.rateLimits } : {}),
      ...(g.record.metadata ? { metadata: g.record.metadata } : {}),
      ...(g.record.test ? { test: true as const } : {}),
      sealed: seal(g.keyId, g.secret),
    }
    const mac = macOf(row)
    if (mac) row.mac = mac
    return { g, row }
  }
  const baseActor = options.actor ?? defaultActor()
  const auditEvent = (actor: string, action: string, row: StoredKey, at: Date, detail?: Record<string, unknown>): NewKeyEvent => ({
    at,
    actor,
    action,
    keyId: row.keyId,
    principal: row.principal,
    ...(detail ? { detail } : {}),
  })
  /**
   * Read-modify-write as compare-and-set on the row version: `change` computes the patch from the
   * row as it is (undefined: nothing to do), the write applies only if no one changed the row
   * meanwhile, else it runs again on the fresh row. With `ifVersion`, a changed row is a conflict.
   */
  const edit = async (
    keyId: string,
    change: (row: StoredKey, at: Date) => StoredKeyPatch | undefined,
    ifVersion: number | undefined,
    type: KeyChangeEvent['type'] | undefined,
    audit: { actor: string; action: string; detail?: Record<string, unknown> },
    trustRow = false,
  ): Promise<KeyInfo> => {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const read = await backend.read(keyId)
      if (!read) throw unknownKey()
      // Only a revocation may start from a row that fails its MAC: it can only take authority away.
      const row = trustRow ? read : check(read)
      if (ifVersion !== undefined && row.version !== ifVersion) throw conflict(keyId, ifVersion, row.version)
      const at = now()
      const p = change(row, at)
      if (!p) return info(row, at)
      // The MAC of the row as this patch leaves it; the write is conditional on the version read,
      // so the row it lands on is exactly the one it was computed from.
      const mac = macOf(applyPatch(row, p))
      if (mac) p.mac = mac
      const next = await backend.update(keyId, p, row.version, auditEvent(audit.actor, audit.action, row, at, audit.detail))
      if (next) {
        emit(type ?? eventOf(p), keyId, at)
        return info(next, at)
      }
      if (ifVersion !== undefined) {
        const current = await backend.read(keyId)
        if (!current) throw unknownKey()
        throw conflict(keyId, ifVersion, current.version)
      }
      await pause(attempt)
    }
    throw new SigilError('KEY_CONFLICT', `key ${keyId} kept changing while updating it; retry`)
  }

  const update = async (keyId: string, changes: KeyUpdate, o: UpdateKeyOptions = {}, actor = baseActor): Promise<KeyInfo> => {
    const u = keyUpdateSchema.safeParse(changes)
    if (!u.success) throw zodOptionsError('key update', u.error, keyUpdateSchema, KEY_RENAMES)
    const grant = parseKeyGrant(o.grant)
    if (u.data.rateLimits !== undefined && u.data.rateLimits !== null) {
      const l = createKeyInputSchema.safeParse({ principal: 'x', rateLimits: u.data.rateLimits })
      if (!l.success) throw zodOptionsError('key update', l.error, createKeyInputSchema, KEY_RENAMES)
    }
    checkOptions('key update options', o, UPDATE_OPTION_NAMES)
    if (o.ifVersion !== undefined && !Number.isSafeInteger(o.ifVersion)) throw new ConfigurationError('ifVersion must be an integer')
    return edit(
      keyId,
      (row, at) => {
        // On the row as it is at this attempt: the scopes an add/remove really adds are checked.
        authorizeKeyAccess(grant, row.principal)
        const p = updatePatch(row, changes, at)
        authorizeKeyChange(grant, row, p)
        return p
      },
      o.ifVersion,
      undefined,
      { actor, action: 'key.update', detail: detailOf(changes) },
    )
  }

  // An unknown key id costs what a known one does (opaque mode, SPEC §2 step 4): the same record
  // is built, its record MAC checked and its secret opened, from a decoy row sealed and
  // authenticated like any other (drawn on the first lookup).
  let decoy: StoredKey | undefined
  // The secret is assigned to the info object, not spread with it (`{ ...info, secret }`): records
  // built that way measured ~1.1-1.7 µs slower per opaque verification than an unknown id (memory
  // and SQLite stores, t 10-17), and a record built by assignment measures equal (issue 23 item 11).
  const recordOf = (row: StoredKey): KeyRecord => {
    const r = info(check(row)) as KeyInfo & { secret?: Uint8Array }
    r.secret = open(row)
    return r as KeyRecord
  }
  const asRead = backend.asRead
  const record = (row: StoredKey | undefined): KeyRecord | undefined => {
    decoy ??= issue({ principal: 'decoy', scopes: ['decoy'] }, now()).row
    // One build either way; an unknown id's (the decoy's, decoded as a read decodes a row when the
    // backend says how) is not handed out.
    const r = recordOf(row ?? (asRead ? asRead.call(backend, decoy) : decoy))
    return row ? r : undefined
  }
  const readSync = backend.readSync
  const build = (actor: string): EncryptedKeyStore => ({
    async get(keyId: string): Promise<KeyRecord | undefined> {
      return record(await backend.read(keyId))
    },
    // `get` without a promise, when the backend can read synchronously (SQLite).
    ...(readSync ? { lookup: (keyId: string): KeyRecord | undefined => record(readSync.call(backend, keyId)) } : {}),
    async info(keyId) {
      const row = await backend.read(keyId)
      return row ? info(check(row)) : undefined
    },
    async create(input, o = {}) {
      checkOptions('create options', o, CREATE_OPTION_NAMES)
      const grant = parseKeyGrant(o.grant)
      const at = now()
      const { g, row } = issue(input, at)
      authorizeNewKey(grant, row)
      const limit = limitOf(grant, row.principal, at)
      const inserted = await backend.insert(row, auditEvent(actor, 'key.create', row, at, { scopes: row.scopes }), limit)
      if (limit && inserted !== true) throw keyLimitError(limit.max)
      emit('created', g.keyId, at)
      return { keyId: g.keyId, token: g.token, secret: g.secret, key: info(row, at) }
    },
    async list(filter = {}) {
      const f = listFilterSchema.safeParse(filter)
      if (!f.success) throw zodOptionsError('list filter', f.error, listFilterSchema)
      const at = now()
      const rows = await backend.list({ ...(f.data as ListKeysFilter), now: at })
      return rows.map((r) => info(check(r), at))
    },
    async rotate(keyId, o = {}) {
      checkOptions('rotate options', o, ROTATE_OPTION_NAMES)
      const grant = parseKeyGrant(o.grant)
      const graceMs = o.graceMs ?? defaultGrace
      if (!Number.isFinite(graceMs) || graceMs < 0) throw new ConfigurationError('graceMs must be a non-negative number')
      if (o.expiresAt !== undefined && o.expiresAt !== null && !(o.expiresAt instanceof Date && Number.isFinite(o.expiresAt.getTime())))
        throw new ConfigurationError('expiresAt must be a valid Date or null')
      const at = now()
      const read = await backend.read(keyId)
      if (!read) throw unknownKey()
      const old = check(read)
      authorizeKeyAccess(grant, old.principal)
      const status = effectiveStatus(old, at)
      if (status === 'revoked') throw new SigilError('KEY_REVOKED', 'a revoked key cannot be rotated')
      if (status === 'expired') throw new SigilError('KEY_EXPIRED', 'an expired key cannot be rotated')
      if (old.replacedBy) throw new SigilError('KEY_EXPIRED', 'this key was already rotated; rotate its replacement')
      // The new key keeps the old one's expiry unless the call sets another (issue 24 item 4).
      const expiresAt = o.expiresAt === undefined ? old.expiresAt : (o.expiresAt ?? undefined)
      authorizeNewKey(grant, { principal: old.principal, scopes: old.scopes, expiresAt }, old)
      const input: CreateKeyInput = {
        principal: old.principal,
        scopes: old.scopes,
        ...(expiresAt ? { expiresAt } : {}),
        ...(old.rateLimits ? { rateLimits: old.rateLimits } : {}),
        ...(old.metadata ? { metadata: old.metadata } : {}),
        ...(old.test ? { test: true } : {}),
      }
      const { g, row } = issue(input, at)
      // The grace never extends a key past its own earlier deadline.
      let notAfter = new Date(at.getTime() + graceMs)
      if (old.notAfter && old.notAfter < notAfter) notAfter = old.notAfter
      const p: StoredKeyPatch = { notAfter, replacedBy: g.keyId, updatedAt: at }
      const mac = macOf(applyPatch(old, p))
      if (mac) p.mac = mac
      const ev = auditEvent(actor, 'key.rotate', old, at, { replacedBy: g.keyId, graceMs, notAfter: notAfter.toISOString() })
      const limit = limitOf(grant, old.principal, at)
      const rotated = await backend.rotate(keyId, p, row, at, old.version, ev, limit)
      if (rotated === 'limit' && limit) throw keyLimitError(limit.max)
      if (rotated !== true) {
        throw new SigilError('KEY_EXPIRED', 'the key changed while rotating it (concurrent rotation or revocation); check it and retry')
      }
      emit('created', g.keyId, at)
      emit('rotated', keyId, at, g.keyId)
      const previous = info({ ...old, ...p, version: old.version + 1 } as StoredKey, at)
      return { keyId: g.keyId, token: g.token, secret: g.secret, key: info(row, at), previous } satisfies RotatedKey
    },
    revoke(keyId, o = {}) {
      const grant = parseKeyGrant(o.grant)
      // Conditional on the row version: a revoke racing another edit is never undone by it.
      return edit(
        keyId,
        (row, at) => {
          authorizeKeyAccess(grant, row.principal)
          return row.status === 'revoked' ? undefined : { status: 'revoked', revokedAt: at, updatedAt: at }
        },
        undefined,
        'revoked',
        { actor, action: 'key.revoke' },
        true,
      )
    },
    setScopes: (keyId, scopes) => update(keyId, { scopes }, {}, actor),
    update: (keyId, changes, o) => update(keyId, changes, o, actor),
    expire(keyId, when) {
      return edit(keyId, (_row, at) => ({ expiresAt: when ?? at, updatedAt: at }), undefined, 'expired', {
        actor,
        action: 'key.update',
        detail: { expiresAt: (when ?? now()).toISOString() },
      })
    },
    as: (who: string) => build(actorSchema(who)),
    async events(q = {}) {
      if (!backend.listEvents) return []
      const f = eventQuerySchema.safeParse(q)
      if (!f.success) throw zodOptionsError('event query', f.error, eventQuerySchema)
      return backend.listEvents({ limit: f.data.limit ?? 50, ...f.data })
    },
    async appendEvent(e) {
      if (!backend.appendEvent) throw new ConfigurationError('this key store keeps no audit log')
      const { at, ...rest } = e
      return backend.appendEvent({ ...rest, at: at ?? now(), actor: e.actor ?? actor })
    },
    onChange(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async rotateMasterKey(): Promise<MasterKeyRotation> {
      if (!ring) return { reencrypted: 0, current: PLAIN, failed: [] }
      let count = 0
      const failed: MasterKeyRotation['failed'] = []
      // Walk by key id so a row that cannot be opened is passed, never retried forever, and
      // never blocks the rows after it.
      let after: string | undefined
      for (;;) {
        const batch = await backend.staleSecrets(ring.current, 100, after)
        if (batch.length === 0) break
        for (const { keyId } of batch) {
          after = keyId
          // Re-read the whole row: its record MAC is keyed by the master-key version, so it is
          // checked under the old version and written anew under the current one, conditional
          // on the row version (an edit in between: read again).
          for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
            const row = await backend.read(keyId)
            if (!row || row.sealed.version === ring.current) break
            let next: SealedSecret
            let mac: Uint8Array
            try {
              check(row)
              next = sealSecret(ring, keyId, openSecret(ring, keyId, row.sealed))
              mac = recordMac(ring, { ...row, sealed: next })
            } catch (e) {
              failed.push({ keyId, reason: e instanceof Error ? e.message : String(e) })
              break
            }
            if (await backend.replaceSecret(keyId, row.sealed.version, next, mac, row.version)) {
              count++
              emit('reencrypted', keyId, now())
              break
            }
          }
        }
      }
      return { reencrypted: count, current: ring.current, failed }
    },
    close: () => backend.close(),
  })
  const store = build(baseActor)
  emitters.set(store, emitEvent)
  return store
}

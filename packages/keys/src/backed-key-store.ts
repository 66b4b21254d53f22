import { ConfigurationError, type KeyRecord, SigilError } from '@sigil/core'
import { checkOptions, DEFAULT_ALGORITHM, keyStatusAt, optionNames, zodOptionsError } from '@sigil/core/internal'
import { z } from 'zod'
import { createKeyInputSchema, generateKey, KEY_RENAMES, metadataSchema, scopesSchema } from './generate-key.js'
import type { KeyBackend, KeyCountLimit, NewKeyEvent, SecretReplacement, StoredKey, StoredKeyPatch } from './key-backend.js'
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
  RotateMasterKeyOptions,
  RotateOptions,
  UpdateKeyOptions,
} from './key-store.js'
import { type MasterKeyRing, parseMasterKey } from './master-key.js'
import { checkRecordMac, recordMac } from './record-mac.js'
import { KEY_ROW_FORMAT, type RowFieldChange, upgradeKeyRow } from './row-format.js'
import { openSecret, type SealedSecret, sealSecret } from './secret-box.js'
import { createSessionStore, type SessionStore } from './session-store.js'
import { defaultActor, type StoreOptions, storeOptionsSchema } from './store-options.js'

const backedStoreOptionsSchema = storeOptionsSchema.extend({ requireMasterKey: z.boolean().optional() })
const ROTATE_OPTION_NAMES = optionNames<RotateOptions>({ graceMs: true, expiresAt: true, grant: true })
const UPDATE_OPTION_NAMES = optionNames<UpdateKeyOptions>({ ifVersion: true, grant: true })
const CREATE_OPTION_NAMES = optionNames<KeyGrantOptions>({ grant: true })
const ROTATE_MASTER_KEY_OPTION_NAMES = optionNames<RotateMasterKeyOptions>({ batchSize: true, onProgress: true })

/** Rows re-encrypted per transaction by `rotateMasterKey` unless `batchSize` says otherwise. */
const DEFAULT_REENCRYPT_BATCH = 500

/** Rows per master-key version: one aggregate query when the backend has it, else a walk of the stale rows. */
async function secretVersions(backend: KeyBackend, current: string): Promise<Map<string, number>> {
  if (backend.countSecretVersions) return backend.countSecretVersions()
  const out = new Map<string, number>()
  let after: string | undefined
  for (;;) {
    const batch = await backend.staleSecrets(current, 1000, after)
    if (batch.length === 0) return out
    for (const r of batch) out.set(r.sealed.version, (out.get(r.sealed.version) ?? 0) + 1)
    after = batch[batch.length - 1]?.keyId
  }
}

/** One line: each version the ring lacks and how many keys use it; never key material. */
function missingVersionsError(missing: Array<[string, number]>, current: string): ConfigurationError {
  const what = missing.map(([v, n]) => `${n} key(s) under master-key version ${v}`).join(', ')
  const example = missing.map(([v]) => `${v}:<its key>`).join(',')
  return new ConfigurationError(
    `SIGIL_MASTER_KEY lacks a version the store still uses: ${what}. Add it after the current entry (SIGIL_MASTER_KEY="${current}:<key>,${example}") and run again; nothing was changed.`,
  )
}

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

function toInfo(row: StoredKey, now: Date, encrypted: boolean): KeyInfo {
  return {
    keyId: row.keyId,
    principal: row.principal,
    scopes: row.scopes,
    status: keyStatusAt(row, now.getTime()),
    createdAt: row.createdAt,
    algorithm: DEFAULT_ALGORITHM,
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
const migrators = new WeakMap<object, (o: MigrateKeyRowsOptions) => Promise<KeyRowMigration>>()

/** Options of {@link migrateKeyRows}. */
export interface MigrateKeyRowsOptions {
  /** Report what would change and write nothing (`sigil keys migrate --check`). */
  dryRun?: boolean
}

/** What {@link migrateKeyRows} changed (or, with `dryRun`, would change). */
export interface KeyRowMigration {
  dryRun: boolean
  /** Rows already in this release's format. */
  current: number
  /** Rows converted to this release's format, with the fields each conversion changed. */
  converted: Array<{ keyId: string; changes: RowFieldChange[] }>
  /** Rows no conversion makes usable (left as they are), or that fail their record MAC: the key id and the field. */
  invalid: Array<{ keyId: string; field: string; reason: string }>
}

/** What `sigil keys migrate` did, or with `dryRun` would do, to a store: its schema, then its rows. */
export interface KeyStoreMigrationReport {
  /** Schema version before, this release's, and the migrations that run (ran) in between. */
  schema: { version: number; latest: number; pending: number[] }
  rows: KeyRowMigration
}

/**
 * Rewrite every row of an older format in this release's (`KEY_ROW_FORMAT`), each with a new record
 * MAC, conditional on its row version, with a `key.migrate` audit event. Reads convert old rows
 * anyway; this makes the conversion permanent, and with `dryRun` reports it (`sigil keys migrate`).
 * A row that fails its record MAC, or that no conversion makes usable, is reported, never written.
 *
 * @example
 * ```ts
 * const report = await migrateKeyRows(store, { dryRun: true })
 * ```
 */
export function migrateKeyRows(store: object, options: MigrateKeyRowsOptions = {}): Promise<KeyRowMigration> {
  const m = migrators.get(store)
  if (!m) throw new ConfigurationError('migrateKeyRows takes a SQLite or PostgreSQL key store (a backed store)')
  return m(options)
}

/** Tell a backed store's change listeners (its cache, fan-out) about changes made around it (a restore). @internal */
export function emitKeyChange(store: object, event: KeyChangeEvent): void {
  emitters.get(store)?.(event)
}

// The backend and master key of a backed store, for row-level tools over it (export and import).
const internals = new WeakMap<object, { backend: KeyBackend; ring: MasterKeyRing | undefined; actor: string; now: () => Date }>()

/** The backend, master key, actor and clock under a store made by {@link createBackedKeyStore}. @internal */
export function backedStoreInternals(
  store: object,
): { backend: KeyBackend; ring: MasterKeyRing | undefined; actor: string; now: () => Date } | undefined {
  return internals.get(store)
}

function eventOf(p: StoredKeyPatch): KeyChangeEvent['type'] {
  const fields = Object.keys(p).filter((k) => k !== 'updatedAt' && k !== 'mac' && k !== 'format')
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
  // A row of an older format is converted after its MAC checked out (the MAC covers the fields
  // as stored), so a legitimate old row reads as today's and a tampered one still fails.
  const check = (row: StoredKey): StoredKey => {
    if (ring) checkRecordMac(ring, row, row.mac)
    return row.format === KEY_ROW_FORMAT ? row : upgradeKeyRow(row).row
  }
  /** Make `p` persist what reading `stored` as `row` converted (a write MACs the converted fields). */
  const persistFormat = (stored: StoredKey, row: StoredKey, p: StoredKeyPatch): void => {
    if (stored.format === KEY_ROW_FORMAT) return
    if (p.rateLimits === undefined && row.rateLimits !== stored.rateLimits) p.rateLimits = row.rateLimits ?? null
    if (!upgradeKeyRow(stored).problem) p.format = KEY_ROW_FORMAT
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
      format: KEY_ROW_FORMAT,
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
      if (!trustRow) persistFormat(read, row, p)
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
  // and SQLite stores, t 10-17), and a record built by assignment measures equal: a
  // known key must cost what an unknown id costs, or opaque mode tells them apart.
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
  // One object for every actor's view: sessions record no actor.
  const sessions: SessionStore | undefined = backend.sessions ? createSessionStore(backend.sessions, clock) : undefined
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
      const status = keyStatusAt(old, at.getTime())
      if (status === 'revoked') throw new SigilError('KEY_REVOKED', 'a revoked key cannot be rotated')
      if (status === 'expired') throw new SigilError('KEY_EXPIRED', 'an expired key cannot be rotated')
      if (old.replacedBy) throw new SigilError('KEY_EXPIRED', 'this key was already rotated; rotate its replacement')
      // The new key keeps the old one's expiry unless the call sets another: rotating must
      // never be a way to extend a key's life past what its actor may grant.
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
      persistFormat(read, old, p)
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
    ...(sessions ? { sessions } : {}),
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
    async rotateMasterKey(o: RotateMasterKeyOptions = {}): Promise<MasterKeyRotation> {
      checkOptions('master-key rotation options', o, ROTATE_MASTER_KEY_OPTION_NAMES)
      const batchSize = o.batchSize ?? DEFAULT_REENCRYPT_BATCH
      if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
        throw new ConfigurationError('batchSize must be an integer from 1 to 10000')
      if (!ring) return { reencrypted: 0, current: PLAIN, failed: [] }
      // Refuse once, before anything is written: a version rows use that the ring lacks would
      // otherwise fail row by row (one error a key), and leave the store half rotated.
      const versions = await secretVersions(backend, ring.current)
      const missing = [...versions].filter(([v]) => v !== ring.current && !ring.keys.has(v))
      if (missing.length > 0) throw missingVersionsError(missing, ring.current)
      let total = 0
      for (const [v, n] of versions) if (v !== ring.current) total += n
      let count = 0
      const failed: MasterKeyRotation['failed'] = []
      const progress = () => o.onProgress?.({ done: count, failed: failed.length, total })
      progress()
      // Re-encrypt one row as read; undefined when it cannot be (reported in failed).
      const reseal = (row: StoredKey): SecretReplacement | undefined => {
        try {
          // The record MAC is keyed by the master-key version: checked under the old version,
          // written anew under the current one, conditional on the row version.
          check(row)
          const sealed = sealSecret(ring, row.keyId, openSecret(ring, row.keyId, row.sealed))
          return {
            keyId: row.keyId,
            fromVersion: row.sealed.version,
            sealed,
            mac: recordMac(ring, { ...row, sealed }),
            ifVersion: row.version,
          }
        } catch (e) {
          failed.push({ keyId: row.keyId, reason: e instanceof Error ? e.message : String(e) })
          return undefined
        }
      }
      // One row at a time, re-read on every attempt: a row edited since its batch was read.
      const one = async (keyId: string) => {
        for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
          const row = await backend.read(keyId)
          if (!row || row.sealed.version === ring.current) return
          const next = reseal(row)
          if (!next) return
          if (await backend.replaceSecret(keyId, next.fromVersion, next.sealed, next.mac, next.ifVersion)) {
            count++
            emit('reencrypted', keyId, now())
            return
          }
        }
      }
      // Walk by key id so a row that cannot be opened is passed, never retried forever, and
      // never blocks the rows after it. Rows already under the current version are not read.
      let after: string | undefined
      const batched = backend.staleRows !== undefined && backend.replaceSecrets !== undefined
      const write = async (items: SecretReplacement[]) => {
        const done = new Set(await (backend.replaceSecrets as NonNullable<KeyBackend['replaceSecrets']>)(items))
        const at = now()
        for (const i of items) {
          if (done.has(i.keyId)) {
            count++
            emit('reencrypted', i.keyId, at)
          } else await one(i.keyId) // changed since the batch read it: again, on the row as it is
        }
        progress()
      }
      // One batch is written while the next is read and re-sealed (disjoint key ranges): the
      // database and the crypto overlap. Never more than one write in flight.
      let writing: Promise<void> = Promise.resolve()
      try {
        for (;;) {
          const rows = backend.staleRows
            ? await backend.staleRows(ring.current, batchSize, after)
            : await backend.staleSecrets(ring.current, batchSize, after)
          if (rows.length === 0) break
          after = rows[rows.length - 1]?.keyId
          if (!batched) {
            for (const { keyId } of rows) await one(keyId)
            progress()
            continue
          }
          const items = (rows as StoredKey[]).map(reseal).filter((x): x is SecretReplacement => x !== undefined)
          await writing
          writing = write(items)
          // Awaited below or at the next batch; this only keeps a failure from being "unhandled" meanwhile.
          writing.catch(() => {})
        }
      } finally {
        await writing
      }
      return { reencrypted: count, current: ring.current, failed }
    },
    close: () => backend.close(),
  })
  const migrateRows = async (o: MigrateKeyRowsOptions): Promise<KeyRowMigration> => {
    const out: KeyRowMigration = { dryRun: o.dryRun === true, current: 0, converted: [], invalid: [] }
    // Converts one row; re-reads it when an edit landed in between (the write is conditional).
    const convert = async (first: StoredKey): Promise<RowFieldChange[] | undefined> => {
      let stored: StoredKey | undefined = first
      for (let attempt = 0; attempt < CAS_ATTEMPTS && stored; attempt++) {
        if (ring) checkRecordMac(ring, stored, stored.mac)
        // A current row is looked at too: a field no release can use is reported either way.
        const up = upgradeKeyRow(stored.format === KEY_ROW_FORMAT ? { ...stored, format: undefined } : stored)
        if (up.problem) throw Object.assign(new Error(up.problem.reason), { field: up.problem.field })
        if (stored.format === KEY_ROW_FORMAT) return undefined
        const changes = up.changes.length > 0 ? up.changes : [{ field: 'format', from: stored.format ?? null, to: KEY_ROW_FORMAT }]
        if (o.dryRun) return changes
        const at = now()
        const p: StoredKeyPatch = { format: KEY_ROW_FORMAT, updatedAt: at }
        if (up.row.rateLimits !== stored.rateLimits) p.rateLimits = up.row.rateLimits ?? null
        const mac = macOf(applyPatch(up.row, p))
        if (mac) p.mac = mac
        const ev = auditEvent(baseActor, 'key.migrate', stored, at, { changes: detailOf(changes) })
        if (await backend.update(stored.keyId, p, stored.version, ev)) {
          emit('updated', stored.keyId, at)
          return changes
        }
        stored = await backend.read(stored.keyId)
      }
      return undefined
    }
    let after: string | undefined
    for (;;) {
      const page = await backend.list({ now: now(), limit: 500, ...(after ? { after } : {}) })
      for (const row of page) {
        after = row.keyId
        try {
          const changes = await convert(row)
          if (changes) out.converted.push({ keyId: row.keyId, changes })
          else out.current++
        } catch (e) {
          if (e instanceof SigilError && e.code === 'STORE_UNAVAILABLE') throw e
          const field = (e as { field?: string }).field ?? 'recordMac'
          out.invalid.push({ keyId: row.keyId, field, reason: e instanceof Error ? e.message : String(e) })
        }
      }
      if (page.length < 500) break
    }
    return out
  }
  const store = build(baseActor)
  emitters.set(store, emitEvent)
  migrators.set(store, migrateRows)
  internals.set(store, { backend, ring, actor: baseActor, now })
  return store
}

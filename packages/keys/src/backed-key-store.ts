import { ConfigurationError, type KeyRecord, type KeyStatus, SigilError } from '@sigil/core'
import { createKeyInputSchema, generateKey, scopesSchema } from './generate-key.js'
import type { KeyBackend, StoredKey, StoredKeyPatch } from './key-backend.js'
import type { CreateKeyInput, EncryptedKeyStore, KeyChangeEvent, KeyChangeListener, KeyInfo, RotatedKey } from './key-store.js'
import { type MasterKeyRing, parseMasterKey } from './master-key.js'
import { openSecret, type SealedSecret, sealSecret } from './secret-box.js'
import { type StoreOptions, storeOptionsSchema } from './store-options.js'

/** Default rotation grace: a day, long enough to roll a deploy. */
export const DEFAULT_GRACE_MS = 24 * 60 * 60 * 1000

const PLAIN = 'plain'

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
    ...(row.limits ? { limits: row.limits } : {}),
    ...(row.metadata ? { metadata: row.metadata } : {}),
    ...(encrypted ? { masterKeyVersion: row.sealed.version } : {}),
  }
}

function unknownKey(): SigilError {
  return new SigilError('KEY_UNKNOWN', 'no key with that id')
}

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
  const parsed = storeOptionsSchema.safeParse(options)
  if (!parsed.success) throw new ConfigurationError('invalid key store options', { cause: parsed.error })
  const ring: MasterKeyRing | undefined =
    options.masterKey !== undefined || options.requireMasterKey ? parseMasterKey(options.masterKey) : undefined
  const now = options.now ?? (() => new Date())
  const defaultGrace = options.defaultGraceMs ?? DEFAULT_GRACE_MS
  const listeners = new Set<KeyChangeListener>()

  const seal = (keyId: string, secret: Uint8Array): SealedSecret =>
    ring ? sealSecret(ring, keyId, secret) : { version: PLAIN, data: secret.slice() }
  const open = (row: StoredKey): Uint8Array => {
    if (row.sealed.version === PLAIN && !ring) return row.sealed.data
    if (!ring) throw new ConfigurationError(`key ${row.keyId} is encrypted and no master key is configured`)
    return openSecret(ring, row.keyId, row.sealed)
  }
  const emit = (type: KeyChangeEvent['type'], keyId: string, at: Date, replacedBy?: string) => {
    const event: KeyChangeEvent = { type, keyId, at, ...(replacedBy ? { replacedBy } : {}) }
    for (const l of listeners) {
      try {
        l(event)
      } catch {
        // A listener cannot undo a committed change; one failing must not starve the others.
      }
    }
  }
  const info = (row: StoredKey, at = now()) => toInfo(row, at, ring !== undefined)
  const issue = (input: CreateKeyInput, at: Date) => {
    const parsedInput = createKeyInputSchema.safeParse(input)
    if (!parsedInput.success) throw new ConfigurationError('invalid key options', { cause: parsedInput.error })
    const g = generateKey({ ...(parsedInput.data as CreateKeyInput), now: () => at })
    const row: StoredKey = {
      keyId: g.keyId,
      principal: g.record.principal,
      scopes: [...g.record.scopes],
      status: 'active',
      createdAt: at,
      updatedAt: at,
      ...(g.record.expiresAt ? { expiresAt: g.record.expiresAt } : {}),
      ...(g.record.limits ? { limits: g.record.limits } : {}),
      ...(g.record.metadata ? { metadata: g.record.metadata } : {}),
      sealed: seal(g.keyId, g.secret),
    }
    return { g, row }
  }
  const patch = async (keyId: string, type: KeyChangeEvent['type'], p: StoredKeyPatch): Promise<KeyInfo> => {
    const row = await backend.update(keyId, p)
    if (!row) throw unknownKey()
    emit(type, keyId, p.updatedAt)
    return info(row)
  }

  return {
    async get(keyId: string): Promise<KeyRecord | undefined> {
      const row = await backend.read(keyId)
      if (!row) return undefined
      return { ...info(row), secret: open(row) }
    },
    async info(keyId) {
      const row = await backend.read(keyId)
      return row ? info(row) : undefined
    },
    async create(input) {
      const at = now()
      const { g, row } = issue(input, at)
      await backend.insert(row)
      emit('created', g.keyId, at)
      return { keyId: g.keyId, token: g.token, secret: g.secret, key: info(row, at) }
    },
    async list(filter = {}) {
      const at = now()
      const rows = await backend.list(filter.principal)
      const all = rows.map((r) => info(r, at))
      return filter.status ? all.filter((k) => k.status === filter.status) : all
    },
    async rotate(keyId, o = {}) {
      const graceMs = o.graceMs ?? defaultGrace
      if (!Number.isFinite(graceMs) || graceMs < 0) throw new ConfigurationError('graceMs must be a non-negative number')
      const at = now()
      const old = await backend.read(keyId)
      if (!old) throw unknownKey()
      const status = effectiveStatus(old, at)
      if (status === 'revoked') throw new SigilError('KEY_REVOKED', 'a revoked key cannot be rotated')
      if (status === 'expired') throw new SigilError('KEY_EXPIRED', 'an expired key cannot be rotated')
      if (old.replacedBy) throw new SigilError('KEY_EXPIRED', 'this key was already rotated; rotate its replacement')
      const input: CreateKeyInput = {
        principal: old.principal,
        scopes: old.scopes,
        ...(o.expiresAt ? { expiresAt: o.expiresAt } : {}),
        ...(old.limits ? { limits: old.limits } : {}),
        ...(old.metadata ? { metadata: old.metadata } : {}),
      }
      const { g, row } = issue(input, at)
      // The grace never extends a key past its own earlier deadline.
      let notAfter = new Date(at.getTime() + graceMs)
      if (old.notAfter && old.notAfter < notAfter) notAfter = old.notAfter
      const p: StoredKeyPatch = { notAfter, replacedBy: g.keyId, updatedAt: at }
      if (!(await backend.rotate(keyId, p, row, at))) {
        throw new SigilError('KEY_EXPIRED', 'the key changed while rotating it (concurrent rotation or revocation); check it and retry')
      }
      emit('created', g.keyId, at)
      emit('rotated', keyId, at, g.keyId)
      const previous = info({ ...old, ...p } as StoredKey, at)
      return { keyId: g.keyId, token: g.token, secret: g.secret, key: info(row, at), previous } satisfies RotatedKey
    },
    revoke(keyId) {
      const at = now()
      return backend.read(keyId).then((row) => {
        if (!row) throw unknownKey()
        if (row.status === 'revoked') return info(row, at)
        return patch(keyId, 'revoked', { status: 'revoked', revokedAt: at, updatedAt: at })
      })
    },
    setScopes(keyId, scopes) {
      const s = scopesSchema.safeParse(scopes)
      if (!s.success) return Promise.reject(new ConfigurationError('invalid scopes', { cause: s.error }))
      return patch(keyId, 'scopes', { scopes: [...new Set(s.data)], updatedAt: now() })
    },
    expire(keyId, when) {
      const at = now()
      return patch(keyId, 'expired', { expiresAt: when ?? at, updatedAt: at })
    },
    onChange(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async rotateMasterKey() {
      if (!ring) return { reencrypted: 0 }
      let count = 0
      for (;;) {
        const batch = await backend.staleSecrets(ring.current, 100)
        if (batch.length === 0) break
        for (const { keyId, sealed } of batch) {
          const next = sealSecret(ring, keyId, openSecret(ring, keyId, sealed))
          if (await backend.replaceSecret(keyId, sealed.version, next)) {
            count++
            emit('reencrypted', keyId, now())
          }
        }
      }
      return { reencrypted: count }
    },
    close: () => backend.close(),
  }
}

import { createBackedKeyStore } from './backed-key-store.js'
import type { BackendListQuery, KeyBackend, KeyCountLimit, StoredKey } from './key-backend.js'
import type { EncryptedKeyStore } from './key-store.js'
import type { StoreOptions } from './store-options.js'

function clone(row: StoredKey): StoredKey {
  return { ...row, scopes: [...row.scopes] }
}

/** A {@link KeyBackend} in a `Map`. */
export function createMemoryBackend(): KeyBackend {
  const rows = new Map<string, StoredKey>()
  const apply = (row: StoredKey, patch: object): StoredKey => {
    const next: Record<string, unknown> = { ...row, version: row.version + 1 }
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete next[k]
      else if (v !== undefined) next[k] = v
    }
    rows.set(row.keyId, next as unknown as StoredKey)
    return clone(next as unknown as StoredKey)
  }
  const matches = (r: StoredKey, q: BackendListQuery) => {
    if (q.principal !== undefined && r.principal !== q.principal) return false
    if (q.after !== undefined && r.keyId <= q.after) return false
    if (q.status === undefined) return true
    if (r.status === 'revoked') return q.status === 'revoked'
    const t = q.now.getTime()
    const ended = (r.expiresAt && r.expiresAt.getTime() <= t) || (r.notAfter && r.notAfter.getTime() <= t)
    return q.status === (ended ? 'expired' : 'active')
  }
  // One event-loop turn from count to write: nothing interleaves, so the count is atomic.
  const full = (l: KeyCountLimit | undefined, extra: number) =>
    l !== undefined &&
    [...rows.values()].filter((r) => r.principal === l.principal && matches(r, { status: 'active', now: l.now })).length + extra > l.max
  const byId = (a: { keyId: string }, b: { keyId: string }) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0)
  return {
    async read(keyId) {
      const r = rows.get(keyId)
      return r && clone(r)
    },
    readSync(keyId) {
      const r = rows.get(keyId)
      return r && clone(r)
    },
    keyLimits: true,
    async insert(row, limit) {
      if (rows.has(row.keyId)) throw new Error('duplicate key id')
      if (full(limit, 1)) return false
      rows.set(row.keyId, clone(row))
      return true
    },
    async update(keyId, patch, ifVersion) {
      const r = rows.get(keyId)
      if (!r || (ifVersion !== undefined && r.version !== ifVersion)) return undefined
      return apply(r, patch)
    },
    async rotate(keyId, patch, next, now, limit) {
      const r = rows.get(keyId)
      const t = now.getTime()
      if (r?.status !== 'active' || r.replacedBy) return false
      if ((r.expiresAt && r.expiresAt.getTime() <= t) || (r.notAfter && r.notAfter.getTime() <= t)) return false
      // The old key counts while its grace lasts: patched first, then counted with the new one.
      const patched = { ...r, ...patch } as StoredKey
      if (
        limit &&
        [...rows.values()].filter(
          (x) => x.keyId !== keyId && x.principal === limit.principal && matches(x, { status: 'active', now: limit.now }),
        ).length +
          (matches(patched, { status: 'active', now: limit.now }) ? 1 : 0) +
          1 >
          limit.max
      )
        return 'limit'
      apply(r, patch)
      rows.set(next.keyId, clone(next))
      return true
    },
    async list(q) {
      return [...rows.values()]
        .filter((r) => matches(r, q))
        .sort(byId)
        .slice(0, q.limit ?? Number.POSITIVE_INFINITY)
        .map(clone)
    },
    async staleSecrets(version, limit, after) {
      return [...rows.values()]
        .filter((r) => r.sealed.version !== version && (after === undefined || r.keyId > after))
        .sort(byId)
        .slice(0, limit)
        .map((r) => ({ keyId: r.keyId, sealed: r.sealed }))
    },
    async replaceSecret(keyId, fromVersion, sealed) {
      const r = rows.get(keyId)
      if (!r || r.sealed.version !== fromVersion) return false
      rows.set(keyId, { ...r, sealed })
      return true
    },
    async close() {},
  }
}

/**
 * An in-memory key store for tests and small single-process apps. Keys are lost on exit.
 * Secrets stay in clear unless a `masterKey` is given (nothing is at rest).
 *
 * @example
 * ```ts
 * import { createMemoryKeyStore } from '@sigil/keys'
 * const keys = createMemoryKeyStore()
 * const { token } = await keys.create({ principal: 'acme', scopes: ['orders:read'] })
 * ```
 */
export function createMemoryKeyStore(options: StoreOptions = {}): EncryptedKeyStore {
  return createBackedKeyStore(createMemoryBackend(), options)
}

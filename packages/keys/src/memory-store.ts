import { keyStatusAt } from '@sigil/core/internal'
import { createBackedKeyStore } from './backed-key-store.js'
import type { BackendListQuery, KeyBackend, KeyCountLimit, KeyEvent, NewKeyEvent, StoredKey } from './key-backend.js'
import type { EncryptedKeyStore } from './key-store.js'
import { createMemorySessionBackend } from './session-store.js'
import type { StoreOptions } from './store-options.js'

function clone(row: StoredKey): StoredKey {
  return { ...row, scopes: [...row.scopes] }
}

/** A {@link KeyBackend} in a `Map`. */
export function createMemoryBackend(): KeyBackend {
  const rows = new Map<string, StoredKey>()
  // What a miss copies (opaque mode: an unknown id costs the copy a hit does): the row last
  // inserted, or a decoy of the same shape while there is none.
  let spare: StoredKey = {
    keyId: 'decoy',
    principal: 'decoy',
    scopes: ['decoy'],
    status: 'active',
    createdAt: new Date(0),
    updatedAt: new Date(0),
    version: 0,
    sealed: { version: 'v1', data: new Uint8Array(60) },
    mac: new Uint8Array(32),
  }
  const read = (keyId: string): StoredKey | undefined => {
    const r = rows.get(keyId)
    const copy = clone(r ?? spare)
    return r && copy
  }
  const events: KeyEvent[] = []
  const log = (e: NewKeyEvent | undefined): KeyEvent | undefined => {
    if (!e) return undefined
    const event = { ...e, id: events.length + 1 }
    events.push(event)
    return event
  }
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
    return q.status === undefined || q.status === keyStatusAt(r, q.now.getTime())
  }
  // Working keys of a principal, `as` standing in for its own row (a rotation's patched old key).
  // One event-loop turn from this count to the write: nothing interleaves, so it is atomic.
  const working = (l: KeyCountLimit, as?: StoredKey) =>
    [...rows.values()].filter(
      (r) => r.principal === l.principal && matches(r.keyId === as?.keyId ? as : r, { status: 'active', now: l.now }),
    ).length
  const byId = (a: { keyId: string }, b: { keyId: string }) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0)
  return {
    async read(keyId) {
      return read(keyId)
    },
    readSync: read,
    keyLimits: true,
    async insert(row, e, limit) {
      if (rows.has(row.keyId)) throw new Error('duplicate key id')
      if (limit && working(limit) >= limit.max) return false
      spare = clone(row)
      rows.set(row.keyId, spare)
      log(e)
      return true
    },
    async update(keyId, patch, ifVersion, e) {
      const r = rows.get(keyId)
      if (!r || (ifVersion !== undefined && r.version !== ifVersion)) return undefined
      log(e)
      return apply(r, patch)
    },
    async rotate(keyId, patch, next, now, ifVersion, e, limit) {
      const r = rows.get(keyId)
      if (r === undefined || keyStatusAt(r, now.getTime()) !== 'active' || r.replacedBy) return false
      if (ifVersion !== undefined && r.version !== ifVersion) return false
      // The old key counts while its grace lasts: patched first, then counted with the new one.
      if (limit && working(limit, { ...r, ...patch } as StoredKey) + 1 > limit.max) return 'limit'
      apply(r, patch)
      rows.set(next.keyId, clone(next))
      log(e)
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
    async replaceSecret(keyId, fromVersion, sealed, mac, ifVersion) {
      const r = rows.get(keyId)
      if (!r || r.sealed.version !== fromVersion || (ifVersion !== undefined && r.version !== ifVersion)) return false
      const next: StoredKey = { ...r, sealed }
      if (mac) next.mac = mac
      else delete next.mac
      rows.set(keyId, next)
      return true
    },
    async appendEvent(e) {
      return log(e) as KeyEvent
    },
    async listEvents(q) {
      const out: KeyEvent[] = []
      for (let i = events.length - 1; i >= 0 && out.length < q.limit; i--) {
        const e = events[i] as KeyEvent
        if ((q.before === undefined || e.id < q.before) && (q.principal === undefined || e.principal === q.principal)) out.push(e)
      }
      return out
    },
    sessions: createMemorySessionBackend(),
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

import { ConfigurationError, type KeyRecord, type KeyResolver } from '@sigil/core'
import { z } from 'zod'
import type { KeyChangeListener, KeyStore } from './key-store.js'

/** Options of {@link createCachedKeyStore}. */
export interface CachedKeyStoreOptions {
  /** How long a found key is served from memory. Default 30 s. */
  ttlMs?: number
  /** How long "no such key" is remembered (keeps unknown-key floods off the store). Default 2 s. */
  negativeTtlMs?: number
  /** Most entries kept, least recently used evicted first. Default 10 000. */
  max?: number
  /** Clock, for tests. */
  now?: () => Date
}

/** Cache controls added to the wrapped store. */
export interface KeyCache {
  /** Drop one key now, e.g. when another instance announces a change (Redis pub/sub). */
  invalidate(keyId: string): void
  /** Drop everything. */
  clear(): void
  /** Counters, for metrics and tests. */
  stats(): { hits: number; misses: number; loads: number; size: number }
}

/** A store (or resolver) with a cache in front of `get`. */
export type CachedKeyStore<S extends KeyResolver> = S & KeyCache

const schema = z.object({
  ttlMs: z.number().int().min(0).optional(),
  negativeTtlMs: z.number().int().min(0).optional(),
  max: z.number().int().min(1).optional(),
  now: z.function().optional(),
})

interface Entry {
  record: KeyRecord | undefined
  until: number
}

const ADMIN = ['info', 'create', 'list', 'rotate', 'revoke', 'setScopes', 'expire', 'close', 'rotateMasterKey'] as const

function withStatus(r: KeyRecord, t: number): KeyRecord {
  if (r.status !== 'active') return r
  if ((r.expiresAt && r.expiresAt.getTime() <= t) || (r.notAfter && r.notAfter.getTime() <= t)) return { ...r, status: 'expired' }
  return r
}

/**
 * Put an LRU + TTL cache in front of a key store for `verify()`'s lookups. A burst of lookups for
 * one key makes one store query (single-flight); unknown keys are cached briefly. Changes made
 * through this object or the wrapped store (its `onChange`) invalidate at once in this process;
 * wire `onChange` → pub/sub → `invalidate` to reach other instances. A lookup that was in flight
 * when its key was invalidated is not cached.
 *
 * @example
 * ```ts
 * const keys = createCachedKeyStore(createSqliteKeyStore({ path, masterKey }), { ttlMs: 30_000 })
 * keys.onChange((e) => redis.publish('sigil:keys', e.keyId))
 * sub.on('message', (_, keyId) => keys.invalidate(keyId))
 * ```
 */
export function createCachedKeyStore<S extends KeyResolver>(store: S, options: CachedKeyStoreOptions = {}): CachedKeyStore<S> {
  const parsed = schema.safeParse(options)
  if (!parsed.success) throw new ConfigurationError('invalid cache options', { cause: parsed.error })
  const ttl = options.ttlMs ?? 30_000
  const negTtl = options.negativeTtlMs ?? 2_000
  const max = options.max ?? 10_000
  const clock = options.now ? () => (options.now as () => Date)().getTime() : Date.now
  const entries = new Map<string, Entry>()
  const inflight = new Map<string, Promise<KeyRecord | undefined>>()
  const counters = { hits: 0, misses: 0, loads: 0 }

  const invalidate = (keyId: string) => {
    entries.delete(keyId)
    // A pending load may carry the old state: forget it so the next get asks the store again.
    inflight.delete(keyId)
  }
  const put = (keyId: string, record: KeyRecord | undefined, t: number) => {
    let until = t + (record ? ttl : negTtl)
    // Never serve a key from cache past its own deadline.
    for (const d of [record?.expiresAt, record?.notAfter]) if (d && d.getTime() < until) until = Math.max(t, d.getTime())
    entries.delete(keyId)
    entries.set(keyId, { record, until })
    if (entries.size > max) entries.delete(entries.keys().next().value as string)
  }

  const get = (keyId: string): Promise<KeyRecord | undefined> => {
    const t = clock()
    const hit = entries.get(keyId)
    if (hit && hit.until > t) {
      counters.hits++
      entries.delete(keyId)
      entries.set(keyId, hit)
      return Promise.resolve(hit.record && withStatus(hit.record, t))
    }
    if (hit) entries.delete(keyId)
    counters.misses++
    const pending = inflight.get(keyId)
    if (pending) return pending
    counters.loads++
    const p = Promise.resolve()
      .then(() => store.get(keyId))
      .then(
        (record) => {
          if (inflight.get(keyId) === p) {
            inflight.delete(keyId)
            put(keyId, record, clock())
          }
          return record && withStatus(record, clock())
        },
        (err: unknown) => {
          if (inflight.get(keyId) === p) inflight.delete(keyId)
          throw err
        },
      )
    inflight.set(keyId, p)
    return p
  }

  const admin = store as unknown as Partial<KeyStore> & Record<string, unknown>
  const out: Record<string, unknown> = {
    get,
    invalidate,
    clear: () => {
      entries.clear()
      inflight.clear()
    },
    stats: () => ({ ...counters, size: entries.size }),
  }
  if (typeof admin.onChange === 'function') {
    // Local changes, whichever object they were made through, invalidate at once.
    admin.onChange((e) => {
      invalidate(e.keyId)
      if (e.replacedBy) invalidate(e.replacedBy)
    })
    out.onChange = (l: KeyChangeListener) => (admin.onChange as KeyStore['onChange'])(l)
  }
  for (const m of ADMIN) {
    const fn = admin[m]
    if (typeof fn !== 'function') continue
    out[m] = async (...args: unknown[]) => {
      const r = await (fn as (...a: unknown[]) => unknown).apply(store, args)
      if (typeof args[0] === 'string') invalidate(args[0])
      return r
    }
  }
  return out as unknown as CachedKeyStore<S>
}

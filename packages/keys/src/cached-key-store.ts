import { type KeyRecord, type KeyResolver, SigilError } from '@sigil/core'
import { keyStatusAt, zodOptionsError } from '@sigil/core/internal'
import { z } from 'zod'
import { createKeyTable } from './cached-key-store-table.js'
import type { KeyChangeListener, KeyStore } from './key-store.js'

/** Options of {@link createCachedKeyStore}. */
export interface CachedKeyStoreOptions {
  /** How long a found key is served from memory. Default 30 s. */
  ttlMs?: number
  /** How long "no such key" is remembered (keeps unknown-key floods off the store). Default 2 s. */
  negativeTtlMs?: number
  /** Most found keys kept (~710-770 B RSS each with the record it holds, measured; see the README). Default 100 000. */
  max?: number
  /** Most unknown key ids remembered, in their own table so they never push out real keys. Default 1 000. */
  negativeMax?: number
  /**
   * A store lookup that has not answered by then fails with `STORE_UNAVAILABLE`, for its caller and
   * everyone who joined it, and the next lookup asks the store afresh. Default 2000 ms, the
   * verifier's `storeTimeoutMs`.
   */
  loadTimeoutMs?: number
  /** Clock in milliseconds since the epoch, for tests. Default `Date.now`. */
  now?: () => number
}

/** {@link createCachedKeyStore}'s default `ttlMs`: how long a found key is served from memory. */
export const DEFAULT_KEY_CACHE_TTL_MS = 30_000

/**
 * How late a key change (revoke, rotate, scopes, expiry, limits) reaches servers that cache keys
 * and hear of no announcement (no fan-out): the words the CLI and the portal both print.
 *
 * @example
 * ```ts
 * console.error(`note: key revoked; ${KEY_CHANGE_PROPAGATION}`)
 * ```
 */
export const KEY_CHANGE_PROPAGATION = `servers that cache keys apply it within their key-cache TTL (${DEFAULT_KEY_CACHE_TTL_MS / 1000} s by default)`

/** Returned by {@link KeyCache.getSync} when the cache cannot answer without asking the store. */
export const CACHE_MISS: unique symbol = Symbol('sigil.cache-miss')

/** Cache controls added to the wrapped store. */
export interface KeyCache {
  /**
   * The answer from memory, without a promise: the record, `undefined` for a key known not to
   * exist, or {@link CACHE_MISS} (then call `get` or `lookup`).
   */
  getSync(keyId: string): KeyRecord | undefined | typeof CACHE_MISS
  /**
   * `get` that answers synchronously on a hit, and on a miss too when the store answers
   * synchronously (its own `lookup`, as the SQLite store has); a promise otherwise.
   */
  lookup(keyId: string): KeyRecord | undefined | Promise<KeyRecord | undefined>
  /** Drop one key now, e.g. when another instance announces a change (Redis pub/sub). */
  invalidate(keyId: string): void
  /** Drop everything. */
  clear(): void
  /** Counters, for metrics and tests. */
  stats(): KeyCacheStats
}

/** What {@link KeyCache.stats} reports. */
export interface KeyCacheStats {
  hits: number
  misses: number
  /** Store lookups started (a burst of misses for one key shares one). */
  loads: number
  /** Store lookups abandoned after `loadTimeoutMs`. */
  timeouts: number
  /** Found keys evicted to make room, and loaded keys admission kept out (the table was full of busier keys). */
  evictions: number
  rejected: number
  size: number
  negativeSize: number
}

/** A store (or resolver) with a cache in front of `get`. */
export type CachedKeyStore<S extends KeyResolver> = S & KeyCache

const schema = z.strictObject({
  ttlMs: z.number().int().min(0).optional(),
  negativeTtlMs: z.number().int().min(0).optional(),
  max: z.number().int().min(1).max(50_000_000).optional(),
  negativeMax: z.number().int().min(0).optional(),
  loadTimeoutMs: z.number().int().min(1).optional(),
  now: z.function().optional(),
})

const ADMIN = ['info', 'create', 'list', 'rotate', 'revoke', 'setScopes', 'update', 'expire', 'close', 'rotateMasterKey']
// Reads pass through without dropping anything.
const READS = new Set(['info', 'list'])

function withStatus(r: KeyRecord, t: number): KeyRecord {
  const status = keyStatusAt(r, t)
  return status === r.status ? r : { ...r, status }
}

interface Flight {
  keyId?: string
  promise?: Promise<KeyRecord | undefined>
  deadline: number
  done: boolean
  reject: ((e: unknown) => void) | undefined
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as Promise<T>)?.then === 'function'
}

/**
 * Put a cache in front of a key store for `verify()`'s lookups. A hit hashes the key id once and
 * reads one slot of a flat open-addressing table (two memory accesses at any size, nothing
 * allocated; CLOCK eviction, TinyLFU admission: see the README); `lookup`/`getSync` answer a hit
 * without a promise. A burst of lookups for one key makes one store query
 * (single-flight) bounded by `loadTimeoutMs`; failures are never cached. Unknown keys are
 * remembered briefly in a separate small table. Changes made through this object or the wrapped
 * store (its `onChange`) invalidate at once in this process; wire `onChange` → pub/sub →
 * `invalidate` to reach other instances. A lookup in flight when its key was invalidated is not
 * cached.
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
  if (!parsed.success) throw zodOptionsError('cache options', parsed.error, schema)
  const ttl = options.ttlMs ?? DEFAULT_KEY_CACHE_TTL_MS
  const negTtl = options.negativeTtlMs ?? 2_000
  const negMax = options.negativeMax ?? 1_000
  const loadTimeout = options.loadTimeoutMs ?? 2_000
  const clock = options.now ?? Date.now
  const table = createKeyTable(options.max ?? 100_000)
  const negatives = new Map<string, number>()
  const inflight = new Map<string, Promise<KeyRecord | undefined>>()
  const counters = { hits: 0, misses: 0, loads: 0, timeouts: 0 }

  const invalidate = (keyId: string) => {
    table.remove(keyId)
    negatives.delete(keyId)
    // A pending load may carry the old state: forget it so the next get asks the store again.
    inflight.delete(keyId)
  }
  const put = (keyId: string, record: KeyRecord | undefined, t: number) => {
    if (!record) {
      table.remove(keyId)
      if (negMax === 0 || negTtl === 0) return
      negatives.delete(keyId)
      if (negatives.size >= negMax) negatives.delete(negatives.keys().next().value as string)
      negatives.set(keyId, t + negTtl)
      return
    }
    // Map.delete hashes the key id even when the map is empty: not on every miss.
    if (negatives.size > 0) negatives.delete(keyId)
    let until = t + ttl
    // Never serve a key from cache past its own deadline.
    if (record.expiresAt && record.expiresAt.getTime() < until) until = record.expiresAt.getTime()
    if (record.notAfter && record.notAfter.getTime() < until) until = record.notAfter.getTime()
    if (until <= t) table.remove(keyId)
    else table.put(keyId, record, until, t)
  }

  const getSync = (keyId: string): KeyRecord | undefined | typeof CACHE_MISS => {
    const t = clock()
    // The deadline cap in `put` means a fresh entry is never past its own expiry: no status check here.
    const r = table.hit(keyId, t)
    if (r !== null) {
      counters.hits++
      return r
    }
    if (negatives.size > 0) {
      const n = negatives.get(keyId)
      if (n !== undefined) {
        if (n > t) {
          counters.hits++
          return undefined
        }
        negatives.delete(keyId)
      }
    }
    counters.misses++
    return CACHE_MISS
  }

  // Every load has the same timeout, so loads in start order are in deadline order: one timer for
  // the oldest instead of one per load (a timer costs more than the rest of the miss path). A
  // load stays here until answered or timed out, even when invalidation dropped it from `inflight`.
  const deadlines: Flight[] = []
  let head = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const drain = () => {
    while (head < deadlines.length && (deadlines[head] as Flight).done) head++
    if (head === deadlines.length) {
      deadlines.length = 0
      head = 0
    } else if (head > 1024 && head * 2 > deadlines.length) {
      deadlines.splice(0, head)
      head = 0
    }
  }
  const finish = (f: Flight) => {
    f.done = true
    f.promise = undefined
    f.reject = undefined
    drain()
  }
  const expire = () => {
    timer = undefined
    const now = performance.now()
    while (head < deadlines.length) {
      const f = deadlines[head] as Flight
      if (f.deadline > now) break
      const reject = f.reject as (e: unknown) => void
      if (inflight.get(f.keyId as string) === f.promise) inflight.delete(f.keyId as string)
      counters.timeouts++
      finish(f)
      reject(new SigilError('STORE_UNAVAILABLE', `key store did not answer within ${loadTimeout} ms`))
    }
    if (head < deadlines.length) arm()
  }
  const arm = () => {
    const f = deadlines[head] as Flight
    timer = setTimeout(expire, Math.max(1, Math.ceil(f.deadline - performance.now())))
    ;(timer as { unref?: () => void }).unref?.()
  }

  // The store's own `lookup` when it has one (the SQLite store answers it synchronously), else `get`.
  const ask: (keyId: string) => KeyRecord | undefined | Promise<KeyRecord | undefined> =
    typeof store.lookup === 'function' ? (store.lookup as KeyResolver['get']).bind(store) : store.get.bind(store)

  /** A store lookup: the answer itself when the store answered synchronously, else a promise. Throws when the store threw. */
  const load = (keyId: string): KeyRecord | undefined | Promise<KeyRecord | undefined> => {
    // (No string hash for the common case: nothing in flight, e.g. a synchronous store.)
    const pending = inflight.size === 0 ? undefined : inflight.get(keyId)
    if (pending) return pending
    counters.loads++
    const answer = ask(keyId)
    if (!isPromise(answer)) {
      const t = clock()
      put(keyId, answer, t)
      return answer && withStatus(answer, t)
    }
    const flight: Flight = { deadline: performance.now() + loadTimeout, done: false, reject: undefined }
    const p: Promise<KeyRecord | undefined> = new Promise((resolve, reject) => {
      flight.reject = reject
      ;(answer as Promise<KeyRecord | undefined>).then(
        (record) => {
          if (flight.done) return
          finish(flight)
          // An answer that lost its place (invalidated meanwhile) is not cached: it may be stale.
          if (inflight.get(keyId) === p) {
            inflight.delete(keyId)
            put(keyId, record, clock())
          }
          resolve(record && withStatus(record, clock()))
        },
        (err: unknown) => {
          if (flight.done) return
          finish(flight)
          if (inflight.get(keyId) === p) inflight.delete(keyId)
          reject(err)
        },
      )
    })
    flight.keyId = keyId
    flight.promise = p
    inflight.set(keyId, p)
    deadlines.push(flight)
    if (timer === undefined) arm()
    return p
  }

  // A store that throws instead of rejecting still fails through a rejected promise, as before.
  const loadOrReject = (keyId: string) => {
    try {
      return load(keyId)
    } catch (e) {
      return Promise.reject(e)
    }
  }
  const lookup = (keyId: string) => {
    const r = getSync(keyId)
    return r === CACHE_MISS ? loadOrReject(keyId) : r
  }
  const get = (keyId: string): Promise<KeyRecord | undefined> => {
    const r = getSync(keyId)
    if (r !== CACHE_MISS) return Promise.resolve(r)
    const a = loadOrReject(keyId)
    return isPromise(a) ? a : Promise.resolve(a)
  }

  const admin = store as unknown as Partial<KeyStore> & Record<string, unknown>
  const out: Record<string, unknown> = {
    get,
    getSync,
    lookup,
    invalidate,
    clear: () => {
      table.clear()
      negatives.clear()
      inflight.clear()
    },
    stats: (): KeyCacheStats => ({
      ...counters,
      evictions: table.evictions,
      rejected: table.rejections,
      size: table.size,
      negativeSize: negatives.size,
    }),
  }
  if (typeof admin.onChange === 'function') {
    // Local changes, whichever object they were made through, invalidate at once.
    admin.onChange((e) => {
      invalidate(e.keyId)
      if (e.replacedBy) invalidate(e.replacedBy)
    })
    out.onChange = (l: KeyChangeListener) => (admin.onChange as KeyStore['onChange'])(l)
  }
  // `as(actor)` is synchronous and returns the store itself for another actor: its changes reach
  // this cache through the same onChange listeners.
  if (typeof admin.as === 'function') out.as = (actor: string) => (admin.as as (a: string) => unknown).call(store, actor)
  // Sessions are no keys: the same object, uncached (a sign-out is seen by every instance at once).
  if (typeof admin.sessions === 'object' && admin.sessions !== null) out.sessions = admin.sessions
  // Every other method (admin calls: create, list, rotate, revoke, update, …) passes through; one
  // whose first argument is a key id drops that key afterwards.
  const names = new Set(ADMIN)
  for (const m in admin) names.add(m)
  for (const m of names) {
    const fn = admin[m]
    if (m === 'onChange' || m in out || typeof fn !== 'function') continue
    out[m] = async (...args: unknown[]) => {
      const r = await (fn as (...a: unknown[]) => unknown).apply(store, args)
      if (typeof args[0] === 'string' && !READS.has(m)) invalidate(args[0])
      return r
    }
  }
  return out as unknown as CachedKeyStore<S>
}

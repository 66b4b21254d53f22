import type { NonceStore } from '@sigil/core'
import { randomBytes, SigilError } from '@sigil/core'

/** Options of {@link createMemoryNonceStore}. */
export interface MemoryNonceStoreOptions {
  /** Hard cap on remembered pairs. When full the store fails closed (503), never forgets early. */
  maxEntries?: number
  /** Clock in milliseconds. */
  now?: () => number
}

// Slot layout: three 32-bit fingerprint words and a 32-bit expiry, in ms after `base` (0 = empty,
// never written for a live or expired entry since `rel` is always >= 1). 16 bytes per slot.
const MIN_CAPACITY = 1024
// Rebuild (drop expired, resize) once this share of slots is occupied. Linear probing stays short
// below ~1/2; a rebuild leaves live entries at <= 1/4 of the slots, so the next one is at least
// capacity/4 inserts away and the O(capacity) rebuild is amortised O(1) per insert.
const MAX_LOAD = 0.5
// Expiries are Uint32 ms after `base`; every ~24.8 days `base` moves up in one O(capacity) pass.
const REBASE_AFTER_MS = 2 ** 31
const MAX_TTL_MS = 2 ** 31
// A table holding `maxEntries` pairs is rescanned for expired ones at most this often, so a
// store at capacity costs O(1) per rejected call, not O(capacity).
const FULL_REBUILD_EVERY_MS = 100

const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(n, 1)))

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/**
 * An in-process nonce store with TTL and bounded memory: an open-addressing hash table over typed
 * arrays (no per-entry objects, no GC pressure). Each (keyId, nonce) pair is hashed with three
 * independently seeded 32-bit multiply–rotate lanes (key id length mixed in first, so
 * (`a`, `b:c`) and (`a:b`, `c`) differ); the 96 bits are
 * stored as the pair's fingerprint, next to its expiry; the slot comes from the fingerprint. Expired entries are reused in place or
 * dropped when the table is rebuilt. 16 bytes per slot and at most half the slots occupied:
 * ~32–64 bytes per entry (`pnpm bench` measures it), a constant number of probes per call.
 *
 * Equal pairs always hash equal, so a replay is never accepted. A fingerprint collision can only
 * make a fresh pair look seen (a false rejection): at most n / 2^96 per request with n live
 * entries, ~1.3e-23 at a million.
 *
 * When `maxEntries` unexpired pairs are held the store fails closed (`STORE_UNAVAILABLE`) until
 * the oldest expires (rescanning a full table at most every 100 ms); it never forgets a pair
 * early. Single process only: use `@sigil/redis`
 * when several servers share traffic.
 *
 * @example
 * ```ts
 * const nonceStore = createMemoryNonceStore({ maxEntries: 1_000_000 })
 * await verify(request, { keys, nonceStore })
 * ```
 */
export function createMemoryNonceStore(options: MemoryNonceStoreOptions = {}): NonceStore & { readonly size: number; clear(): void } {
  const max = Math.max(1, Math.floor(options.maxEntries ?? 1_000_000))
  const now = options.now ?? Date.now
  const maxCapacity = Math.max(MIN_CAPACITY, nextPow2(Math.ceil(max / MAX_LOAD)))
  // Seeds are drawn on first use: nothing at import or construction may need randomness (Workers
  // forbid it at global scope).
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let seeded = false

  let capacity = MIN_CAPACITY
  let mask = capacity - 1
  // Slot i is t[4i..4i+3]: fingerprint words, then expiry; one cache line per probe.
  let t = new Uint32Array(capacity * 4)
  /** Non-empty slots, live or expired. */
  let occupied = 0
  /** A lower bound on every stored expiry; while `rel` is below it nothing has expired. */
  let earliest = 0xffffffff
  // `rel` = now - base >= 1 always, so an expiry of 0 can mark an empty slot.
  let base = now() - 1
  // The hash of the last call, read by `insert` (avoids an allocation per call).
  let h0 = 0
  let h1 = 0
  let h2 = 0
  /** When a rebuild of a full table last ran (rel ms); such rebuilds are rate limited. */
  let lastFullRebuild = -FULL_REBUILD_EVERY_MS

  function hash(keyId: string, nonce: string): void {
    if (!seeded) {
      const seed = new Uint32Array(randomBytes(12).buffer)
      s0 = seed[0] as number
      s1 = seed[1] as number
      s2 = seed[2] as number
      seeded = true
    }
    const kl = keyId.length
    let a = s0 ^ kl
    let b = s1 ^ Math.imul(kl, 0x9e3779b1)
    let c = s2 ^ Math.imul(kl, 0x85ebca77)
    for (let j = 0; j < 2; j++) {
      const text = j === 0 ? keyId : nonce
      for (let i = 0; i < text.length; i++) {
        const u = text.charCodeAt(i)
        a = Math.imul(a ^ u, 0x01000193)
        a = (a << 13) | (a >>> 19)
        b = Math.imul(b ^ u, 0x5bd1e995)
        b = (b << 15) | (b >>> 17)
        c = Math.imul(c ^ u, 0xcc9e2d51)
        c = (c << 11) | (c >>> 21)
      }
    }
    const n = kl + nonce.length
    h0 = fmix(a ^ n)
    h1 = fmix(b ^ h0)
    h2 = fmix(c ^ h1)
  }

  /** Move every live entry into a table sized for it; expired ones are dropped. */
  function rebuild(rel: number): number {
    let live = 0
    for (let i = 3; i < capacity * 4; i += 4) if ((t[i] as number) > rel) live++
    const size = Math.min(maxCapacity, Math.max(MIN_CAPACITY, nextPow2(live * 4)))
    const old = t
    capacity = size
    mask = size - 1
    t = new Uint32Array(size * 4)
    earliest = 0xffffffff
    for (let i = 0; i < old.length; i += 4) {
      const e = old[i + 3] as number
      if (e <= rel) continue
      const f0 = old[i] as number
      const f1 = old[i + 1] as number
      const f2 = old[i + 2] as number
      let s = (fmix(f0 ^ f1 ^ f2) & mask) * 4
      while ((t[s + 3] as number) !== 0) s = (s + 4) & (mask * 4 + 3)
      t[s] = f0
      t[s + 1] = f1
      t[s + 2] = f2
      t[s + 3] = e
      if (e < earliest) earliest = e
    }
    occupied = live
    return live
  }

  function rebase(at: number): void {
    const shift = at - 1 - base
    for (let i = 3; i < t.length; i += 4) {
      const e = t[i] as number
      // An entry already expired stays an occupied, expired slot (1 <= any future rel).
      if (e !== 0) t[i] = e > shift + 1 ? e - shift : 1
    }
    earliest = earliest > shift + 1 ? earliest - shift : 1
    lastFullRebuild -= shift
    base += shift
  }

  /** 1: stored; 0: seen; -1: no room without a rebuild. */
  function insert(rel: number, expiry: number): number {
    // The slot comes from the fingerprint, so a rebuild can place entries without their pair.
    const wrap = mask * 4 + 3
    let s = (fmix(h0 ^ h1 ^ h2) & mask) * 4
    let reuse = -1
    for (;;) {
      const e = t[s + 3] as number
      if (e === 0) break
      if ((t[s] as number) === h0 && (t[s + 1] as number) === h1 && (t[s + 2] as number) === h2) {
        if (e > rel) return 0
        // The same pair, expired: renew it in place.
        t[s + 3] = expiry
        if (expiry < earliest) earliest = expiry
        return 1
      }
      if (reuse < 0 && e <= rel) reuse = s
      s = (s + 4) & wrap
    }
    if (reuse < 0) {
      // A new slot: only below the load limit and the entry cap.
      if (occupied >= max || occupied + 1 > capacity * MAX_LOAD) return -1
      reuse = s
      occupied++
    }
    t[reuse] = h0
    t[reuse + 1] = h1
    t[reuse + 2] = h2
    t[reuse + 3] = expiry
    if (expiry < earliest) earliest = expiry
    return 1
  }

  return {
    get size() {
      const rel = now() - base
      let live = 0
      for (let i = 3; i < t.length; i += 4) if ((t[i] as number) > rel) live++
      return live
    },
    clear() {
      capacity = MIN_CAPACITY
      mask = capacity - 1
      t = new Uint32Array(capacity * 4)
      occupied = 0
      earliest = 0xffffffff
    },
    checkAndSet(keyId, nonce, ttlMs) {
      if (!(ttlMs >= 0 && ttlMs <= MAX_TTL_MS)) throw new RangeError(`ttlMs must be between 0 and ${MAX_TTL_MS}`)
      const at = now()
      if (at - base > REBASE_AFTER_MS) rebase(at)
      const rel = at - base
      // Rounded up: a pair is never forgotten before its TTL.
      const expiry = Math.ceil(rel + ttlMs)
      hash(keyId, nonce)
      let r = insert(rel, expiry)
      if (r < 0) {
        if (occupied >= max) {
          // Full: nothing can have expired since the last scan, or one ran moments ago. Fail
          // closed without scanning.
          if (rel < earliest || rel - lastFullRebuild < FULL_REBUILD_EVERY_MS)
            throw new SigilError('STORE_UNAVAILABLE', 'nonce store is full')
          lastFullRebuild = rel
        }
        const live = rebuild(rel)
        if (live >= max) throw new SigilError('STORE_UNAVAILABLE', 'nonce store is full')
        r = insert(rel, expiry)
      }
      return r === 1
    },
  }
}

let shared: ReturnType<typeof createMemoryNonceStore> | undefined

/**
 * The one memory nonce store of this process (of this isolate, on Workers), created on first use
 * and shared by every verifier that is not given a store. Pairs are keyed by key id, so verifiers
 * with different keys never see each other's nonces; verifiers sharing a key share its replays.
 */
export function defaultNonceStore(): ReturnType<typeof createMemoryNonceStore> {
  shared ??= createMemoryNonceStore()
  return shared
}

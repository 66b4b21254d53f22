import type { NonceStore } from '@sigil/core'
import { randomBytes, SigilError } from '@sigil/core'

/** Options of {@link createMemoryNonceStore}. */
export interface MemoryNonceStoreOptions {
  /**
   * Unexpired pairs one key id may hold (default `maxEntries`, else 1,000,000; above 16,384 the
   * share is split over shards by hash, each allowed 1/8 slack, so a key reaches all of it and at
   * most 1/8 more). A key id at its share fails closed (503) for its own requests only, until its oldest pairs expire: a key that
   * floods never changes another key's outcome. Never forgets a pair early.
   */
  maxEntriesPerKey?: number
  /**
   * Cap on pairs across all key ids (default: none; memory is then bounded by `maxEntriesPerKey`
   * times the number of key ids that passed the MAC check). Counts slots not yet swept, so it may
   * fail closed slightly before this many live pairs.
   */
  maxEntries?: number
  /** Clock in milliseconds. */
  now?: () => number
}

// Slot layout: three 32-bit fingerprint words and a 32-bit expiry, in ms after the shard's `base`
// (0 = empty, never written for a live or expired entry since `rel` is always >= 1). 16 bytes.
const MIN_CAPACITY = 64
// Rebuild (drop expired, resize) once this share of slots is occupied. Linear probing stays short
// below ~1/2; a rebuild leaves live entries at <= 1/4 of the slots, so the next one is at least
// capacity/4 inserts away and the O(capacity) rebuild is amortised O(1) per insert.
const MAX_LOAD = 0.5
/**
 * A key id's pairs are spread over shards of about this many entries (at most 1/8 more), each its
 * own table, so the largest rebuild, rescan or rebase on the request path touches at most 65,536
 * slots (1 MiB) — never the whole store.
 */
export const SHARD_MAX_ENTRIES = 16_384
// Expiries are Uint32 ms after `base`; every ~24.8 days a shard's `base` moves up in one pass.
const REBASE_AFTER_MS = 2 ** 31
const MAX_TTL_MS = 2 ** 31
// A full shard is rescanned for expired pairs at most this often, so a key at its share costs
// O(1) per rejected call.
const FULL_REBUILD_EVERY_MS = 100

const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(n, 1)))

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

const full = () => new SigilError('STORE_UNAVAILABLE', 'nonce store is full for this key')

/** One open-addressing table over a typed array: a shard of one key id's pairs. */
class Shard {
  capacity = MIN_CAPACITY
  mask = MIN_CAPACITY - 1
  // Slot i is t[4i..4i+3]: fingerprint words, then expiry; one cache line per probe.
  t = new Uint32Array(MIN_CAPACITY * 4)
  /** Non-empty slots, live or expired. */
  occupied = 0
  /** A lower bound on every stored expiry; while `rel` is below it nothing has expired. */
  earliest = 0xffffffff
  base: number
  lastFullRebuild = -FULL_REBUILD_EVERY_MS

  constructor(
    readonly max: number,
    readonly maxCapacity: number,
    at: number,
  ) {
    // `rel` = now - base >= 1 always, so an expiry of 0 can mark an empty slot.
    this.base = at - 1
  }

  /** Move every live entry into a table sized for it; expired ones are dropped. */
  rebuild(rel: number): number {
    const old = this.t
    let live = 0
    for (let i = 3; i < old.length; i += 4) if ((old[i] as number) > rel) live++
    const size = Math.min(this.maxCapacity, Math.max(MIN_CAPACITY, nextPow2(live * 4)))
    const t = new Uint32Array(size * 4)
    const wrap = (size - 1) * 4 + 3
    let earliest = 0xffffffff
    for (let i = 0; i < old.length; i += 4) {
      const e = old[i + 3] as number
      if (e <= rel) continue
      const f0 = old[i] as number
      const f1 = old[i + 1] as number
      const f2 = old[i + 2] as number
      let s = (fmix(f0 ^ f1 ^ f2) & (size - 1)) * 4
      while ((t[s + 3] as number) !== 0) s = (s + 4) & wrap
      t[s] = f0
      t[s + 1] = f1
      t[s + 2] = f2
      t[s + 3] = e
      if (e < earliest) earliest = e
    }
    this.t = t
    this.capacity = size
    this.mask = size - 1
    this.earliest = earliest
    this.occupied = live
    return live
  }

  rebase(at: number): void {
    const shift = at - 1 - this.base
    const t = this.t
    for (let i = 3; i < t.length; i += 4) {
      const e = t[i] as number
      // An entry already expired stays an occupied, expired slot (1 <= any future rel).
      if (e !== 0) t[i] = e > shift + 1 ? e - shift : 1
    }
    this.earliest = this.earliest > shift + 1 ? this.earliest - shift : 1
    this.lastFullRebuild -= shift
    this.base += shift
  }

  /** 1: stored; 0: seen; -1: no room without a rebuild. */
  insert(rel: number, expiry: number, h0: number, h1: number, h2: number, roomLeft: boolean): number {
    const t = this.t
    const wrap = this.mask * 4 + 3
    // The slot comes from the fingerprint, so a rebuild can place entries without their pair.
    let s = (fmix(h0 ^ h1 ^ h2) & this.mask) * 4
    let reuse = -1
    for (;;) {
      const e = t[s + 3] as number
      if (e === 0) break
      if ((t[s] as number) === h0 && (t[s + 1] as number) === h1 && (t[s + 2] as number) === h2) {
        if (e > rel) return 0
        // The same pair, expired: renew it in place.
        t[s + 3] = expiry
        if (expiry < this.earliest) this.earliest = expiry
        return 1
      }
      if (reuse < 0 && e <= rel) reuse = s
      s = (s + 4) & wrap
    }
    if (reuse < 0) {
      // A new slot: only below the load limit, the shard's share and the store's cap.
      if (!roomLeft || this.occupied >= this.max || this.occupied + 1 > this.capacity * MAX_LOAD) return -1
      reuse = s
      this.occupied++
    }
    t[reuse] = h0
    t[reuse + 1] = h1
    t[reuse + 2] = h2
    t[reuse + 3] = expiry
    if (expiry < this.earliest) this.earliest = expiry
    return 1
  }

  live(at: number): number {
    const rel = at - this.base
    let n = 0
    for (let i = 3; i < this.t.length; i += 4) if ((this.t[i] as number) > rel) n++
    return n
  }
}

/** One key id's pairs: a fixed number of shards (chosen by fingerprint bits), created on demand. */
interface Partition {
  shards: Array<Shard | undefined>
  /** The latest expiry of any pair ever stored here (absolute ms): after it the partition is empty. */
  latest: number
}

/**
 * An in-process nonce store with TTL and bounded memory, fair between key ids. Each key id has its
 * own partition with its own share (`maxEntriesPerKey`), so a key that floods — even at full speed,
 * even with every request then refused by the rate limiter — fills only its own share and fails
 * closed (503) only for itself. A partition is a fixed set of shards, each an open-addressing
 * hash table over a typed array (no per-entry objects, no GC pressure) of at most
 * ~{@link SHARD_MAX_ENTRIES} pairs, so every rebuild, rescan or rebase on the request path is
 * bounded (well under a millisecond), never O(store). Partitions whose pairs have all expired are
 * dropped incrementally, one checked per call.
 *
 * Each (keyId, nonce) pair is hashed with three independently seeded 32-bit multiply–rotate lanes
 * (key id length mixed in first, so (`a`, `b:c`) and (`a:b`, `c`) differ); the 96 bits are stored
 * as the pair's fingerprint next to its expiry. Equal pairs always hash equal, so a replay is never
 * accepted; a fingerprint collision can only make a fresh pair look seen (a false rejection): at
 * most n / 2^96 per request with n live entries. Expired entries are reused in place or dropped
 * when a shard is rebuilt; it never forgets a pair early. Seeds are drawn on first use, not at
 * construction (Workers forbid randomness at global scope).
 *
 * Single process only: use `@sigil/redis` when several processes or servers share traffic.
 *
 * @example
 * ```ts
 * const nonceStore = createMemoryNonceStore({ maxEntriesPerKey: 1_000_000 })
 * const verifier = createVerifier({ keys, nonceStore })
 * ```
 */
export function createMemoryNonceStore(options: MemoryNonceStoreOptions = {}): NonceStore & { readonly size: number; clear(): void } {
  const total = options.maxEntries === undefined ? Number.POSITIVE_INFINITY : Math.max(1, Math.floor(options.maxEntries))
  const perKey = Math.max(1, Math.floor(options.maxEntriesPerKey ?? Math.min(total, 1_000_000)))
  const now = options.now ?? Date.now
  const shardCount = nextPow2(Math.ceil(perKey / SHARD_MAX_ENTRIES))
  const shardBits = Math.log2(shardCount)
  // Pairs spread over shards by hash, so shards fill unevenly: 1/8 slack each keeps a key able to
  // reach its whole share (the spread at 1M over 64 shards is under 1%), at most 1/8 over it.
  const shardMax = shardCount === 1 ? perKey : Math.ceil((perKey / shardCount) * 1.125)
  const shardCapacity = Math.max(MIN_CAPACITY, nextPow2(Math.ceil(shardMax / MAX_LOAD)))

  let partitions = new Map<string, Partition>()
  /** Occupied slots across all shards (live or not yet swept), for the `maxEntries` cap. */
  let occupiedTotal = 0
  let sweep: Iterator<[string, Partition]> | undefined
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let seeded = false
  // The hash of the last call (avoids an allocation per call).
  let h0 = 0
  let h1 = 0
  let h2 = 0

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

  /** Drop at most one partition whose every pair has expired (amortised cleanup, O(1) per call). */
  function sweepOne(at: number, current: Partition): void {
    sweep ??= partitions.entries()
    const next = sweep.next()
    if (next.done) {
      sweep = undefined
      return
    }
    const [id, part] = next.value
    if (part === current || part.latest > at) return
    for (const sh of part.shards) if (sh) occupiedTotal -= sh.occupied
    partitions.delete(id)
  }

  function checkAndSet(keyId: string, nonce: string, ttlMs: number): boolean {
    if (!(ttlMs >= 0 && ttlMs <= MAX_TTL_MS)) throw new RangeError(`ttlMs must be between 0 and ${MAX_TTL_MS}`)
    const at = now()
    hash(keyId, nonce)
    let part = partitions.get(keyId)
    if (!part) {
      part = { shards: new Array(shardCount), latest: 0 }
      partitions.set(keyId, part)
    }
    sweepOne(at, part)
    const index = shardBits === 0 ? 0 : h2 >>> (32 - shardBits)
    let sh = part.shards[index]
    if (!sh) {
      sh = new Shard(shardMax, shardCapacity, at)
      part.shards[index] = sh
    }
    if (at - sh.base > REBASE_AFTER_MS) sh.rebase(at)
    const rel = at - sh.base
    // Rounded up: a pair is never forgotten before its TTL.
    const expiry = Math.ceil(rel + ttlMs)
    const before = sh.occupied
    let r = sh.insert(rel, expiry, h0, h1, h2, occupiedTotal < total)
    if (r < 0) {
      const atCap = sh.occupied >= shardMax || occupiedTotal >= total
      // At its share: nothing can have expired since the last scan, or one ran moments ago.
      if (atCap && (rel < sh.earliest || rel - sh.lastFullRebuild < FULL_REBUILD_EVERY_MS)) throw full()
      if (atCap) sh.lastFullRebuild = rel
      sh.rebuild(rel)
      r = sh.insert(rel, expiry, h0, h1, h2, occupiedTotal + sh.occupied - before < total)
    }
    occupiedTotal += sh.occupied - before
    if (r < 0) throw full()
    if (r === 1 && at + ttlMs > part.latest) part.latest = at + ttlMs
    return r === 1
  }

  return {
    get size() {
      const at = now()
      let n = 0
      for (const part of partitions.values()) for (const sh of part.shards) if (sh) n += sh.live(at)
      return n
    },
    clear() {
      partitions = new Map()
      sweep = undefined
      occupiedTotal = 0
    },
    checkAndSet,
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

import type { NonceStore } from '@sigil/core'
import { SigilError } from '@sigil/core'
import { checkOptions, optionNames, randomBytes } from '@sigil/core/internal'
import { fmix, MIN_SLOTS, probes, TABLE_MAX_ENTRIES, TABLE_SLOTS, Table } from './nonce-table.js'

export { TABLE_MAX_ENTRIES, TABLE_SLOTS } from './nonce-table.js'

/** Options of {@link createMemoryNonceStore}. */
export interface MemoryNonceStoreOptions {
  /**
   * Unexpired pairs one key id may hold (default 1,000,000; with `maxEntries`, an eighth of that
   * cap). A key id at its share fails closed (503) for its own requests only, until its oldest
   * pairs expire: a key that floods never changes another key's outcome. Never forgets a pair
   * early.
   */
  maxEntriesPerKey?: number
  /**
   * Cap on pairs across all key ids (default: none; memory is then bounded by `maxEntriesPerKey`
   * times the number of key ids that passed the MAC check). Counts slots not yet swept, so it may
   * fail closed slightly before this many live pairs. Unless `maxEntriesPerKey` says otherwise, one
   * key id holds at most an eighth of it, so a key that floods leaves the rest to the others (a
   * share set to the whole cap lets one key fill it, and every other key then gets 503).
   */
  maxEntries?: number
  /** Clock in milliseconds. */
  now?: () => number
}

const MEMORY_NONCE_STORE_NAMES = optionNames<MemoryNonceStoreOptions>({ maxEntriesPerKey: true, maxEntries: true, now: true })

// Expiries are Uint32 ms after a table's `base`; every ~24.8 days a table's `base` moves up in one pass.
const REBASE_AFTER_MS = 2 ** 31
const MAX_TTL_MS = 2 ** 31
// A table of a key at its share is rescanned for expired pairs at most this often, so a key at its
// share costs O(1) per refused call.
const PURGE_EVERY_MS = 100
// Tables of a key at its share looked at for expired pairs when the one a pair hashes to has none.
const PURGE_LOOKAHEAD = 16
// Full-size tables kept for reuse once a partition is dropped (1 MiB), so a key that comes back
// does not allocate again.
const POOL_MAX = 16

/** Counters for tests: the most work any one call did (slots read or written, directory cells). */
export const STATS: unique symbol = Symbol('sigil.memoryNonceStore.stats')
export interface MemoryNonceStoreStats {
  /** Slots read or written by maintenance (grow, purge, split, rebase, pool reuse) in one call. */
  maxWork: number
  /** Slots probed by one lookup. */
  maxProbe: number
  grows: number
  purges: number
  splits: number
  /** Full-size tables allocated (not taken from the pool). */
  allocated: number
}

/**
 * With `maxEntries` and no `maxEntriesPerKey`, a key id's share is this fraction of the cap: one key
 * that floods takes at most an eighth, and up to seven keys at their share still leave an eighth to
 * every other key.
 */
const MEMORY_NONCE_STORE_KEY_FRACTION = 1 / 8

const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(n, 1)))

const full = () => new SigilError('STORE_UNAVAILABLE', 'nonce store is full for this key')

/** One key id's pairs: a directory of 2^depth cells over its tables, by the hash's leading bits. */
interface Partition {
  keyId: string
  dir: Table[]
  depth: number
  tables: number
  /** Where the look-ahead for expired pairs resumes, at its share (a directory cell). */
  purgeCell: number
  /** Non-empty slots over all its tables. */
  occupied: number
  /** The latest expiry of any pair ever stored here (absolute ms): after it the partition is empty. */
  latest: number
}

/**
 * An in-process nonce store with TTL and bounded memory, fair between key ids. Each key id has its
 * own partition with its own share (`maxEntriesPerKey`), so a key that floods — even at full speed,
 * even with every request then refused by the rate limiter — fills only its own share and fails
 * closed (503) only for itself. A partition is a directory of open-addressing hash tables over
 * typed arrays (no per-entry objects, no GC pressure), each at most {@link TABLE_SLOTS} slots: a
 * table that fills is split in two (extendible hashing), so no call rehashes more than one table
 * (64 KiB) and memory grows in fixed blocks, reused once a partition is dropped. Partitions whose
 * pairs have all expired are dropped incrementally, one checked per call.
 *
 * Each (keyId, nonce) pair is hashed with three independently seeded 32-bit multiply–rotate lanes
 * (key id length mixed in first, so (`a`, `b:c`) and (`a:b`, `c`) differ); the 96 bits are stored
 * as the pair's fingerprint next to its expiry. Equal pairs always hash equal, so a replay is never
 * accepted; a fingerprint collision can only make a fresh pair look seen (a false rejection): at
 * most n / 2^96 per request with n live entries. Expired entries are reused in place or dropped
 * when their table is rebuilt; it never forgets a pair early. Seeds are drawn on first use, not at
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
  checkOptions('memory nonce store options', options, MEMORY_NONCE_STORE_NAMES)
  const total = options.maxEntries === undefined ? Number.POSITIVE_INFINITY : Math.max(1, Math.floor(options.maxEntries))
  const perKey = Math.max(1, Math.floor(options.maxEntriesPerKey ?? Math.min(total * MEMORY_NONCE_STORE_KEY_FRACTION, 1_000_000)))
  const now = options.now ?? Date.now
  // Hash spread leaves tables between ~3/8 and full; 4x the fewest tables a share needs is far more
  // than it ever takes, and caps its memory even if the hash were lopsided (~128 bytes a pair).
  const maxTables = Math.ceil((4 * perKey) / TABLE_MAX_ENTRIES)
  // The directory (2^depth cells) outgrows the table count when splits are uneven; twice the
  // tables' allowance is ample (a table that may not split drops its expired pairs or fails closed).
  const maxDepth = Math.min(30, Math.ceil(Math.log2(maxTables)) + 1)

  let partitions = new Map<string, Partition>()
  // The same partitions, for the incremental sweep (no iterator objects on the request path).
  let list: Partition[] = []
  let cursor = 0
  /** Occupied slots across all tables (live or not yet swept), for the `maxEntries` cap. */
  let occupiedTotal = 0
  let pool: Uint32Array[] = []
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let seeded = false
  // The hash of the last call (avoids an allocation per call).
  let h0 = 0
  let h1 = 0
  let h2 = 0
  /** Maintenance work of the current call, in slots. */
  let work = 0
  const stats: MemoryNonceStoreStats = { maxWork: 0, maxProbe: 0, grows: 0, purges: 0, splits: 0, allocated: 0 }

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

  /** A zeroed full-size table, reused when one is free. */
  function acquire(): Uint32Array {
    const t = pool.pop()
    work += TABLE_SLOTS
    if (t) return t.fill(0)
    stats.allocated++
    return new Uint32Array(TABLE_SLOTS * 4)
  }

  /**
   * Refill `tb` with its live pairs, in a table of `slots` slots; with `other`, the pairs whose
   * hash bit `bit` (from the top) is 1 go there instead (a split). Expired pairs are dropped.
   */
  function rebuild(part: Partition, tb: Table, slots: number, rel: number, other?: Table, bit = 0): void {
    const n = tb.mask + 1
    // Same size: rehashed in place from a copy, without allocating.
    const t = slots === n ? undefined : slots === TABLE_SLOTS ? acquire() : new Uint32Array(slots * 4)
    const dropped = tb.refill(rel, t, other, bit)
    work += (t === undefined ? 3 * n : n) + (tb.occupied + (other ? other.occupied : 0)) + probes.n
    part.occupied -= dropped
    occupiedTotal -= dropped
  }

  /** Split a full-size table in two by its next hash bit; false if the partition may not grow. */
  function split(part: Partition, tb: Table, rel: number): boolean {
    if (tb.depth >= maxDepth || part.tables >= maxTables) return false
    if (tb.depth === part.depth) {
      // Double the directory: cell j of the new one covers what cell j >> 1 of the old one did.
      const dir = new Array<Table>(part.dir.length * 2)
      for (let j = 0; j < dir.length; j++) dir[j] = part.dir[j >> 1] as Table
      part.dir = dir
      part.depth++
      work += dir.length
    }
    const nt = new Table(acquire(), tb.depth + 1, tb.base)
    nt.lastPurge = tb.lastPurge
    const bit = tb.depth
    tb.depth++
    // `tb`'s cells are a run of 2^(depth - old local depth); its upper half moves to `nt`.
    const span = 2 ** (part.depth - bit)
    const start = (((h2 >>> 1) >>> (31 - part.depth)) & ~(span - 1)) >>> 0
    for (let j = start + span / 2; j < start + span; j++) part.dir[j] = nt
    work += span
    part.tables++
    stats.splits++
    rebuild(part, tb, TABLE_SLOTS, rel, nt, bit)
    return true
  }

  /** Make room for one new pair in `tb`, or say there is none (the caller then fails closed). */
  function makeRoom(part: Partition, tb: Table, at: number): boolean {
    const slots = tb.mask + 1
    const rel = at - tb.base
    if (part.occupied >= perKey || occupiedTotal >= total) {
      // At its share: drop the expired pairs of this table or, if it has none, of the next of the
      // key's tables that has some. Each table at most every 100 ms, and a bounded look-ahead, so a
      // key at its share costs O(1) per refused call.
      let victim: Table | undefined = purgeable(tb, at) ? tb : undefined
      for (let k = 0; victim === undefined && k < PURGE_LOOKAHEAD && k < part.tables; k++) {
        const cell = part.purgeCell & (part.dir.length - 1)
        const next = part.dir[cell] as Table
        const span = 2 ** (part.depth - next.depth)
        part.purgeCell = (cell & ~(span - 1)) + span
        if (purgeable(next, at)) victim = next
        work++
      }
      if (victim === undefined) return false
      victim.lastPurge = at - victim.base
      stats.purges++
      rebuild(part, victim, victim.mask + 1, at - victim.base)
      return true
    }
    if (slots < TABLE_SLOTS) {
      // Small tables grow by rehashing (at most one 64 KiB table's worth), dropping expired pairs.
      const live = tb.countLive(rel)
      work += slots
      stats.grows++
      rebuild(part, tb, Math.min(TABLE_SLOTS, Math.max(MIN_SLOTS, nextPow2(live * 4))), rel)
      return true
    }
    // A full-size table at its load limit: drop its expired pairs if that frees a quarter of it,
    // else split it (or, if the partition may not grow, drop whatever has expired).
    let live = TABLE_MAX_ENTRIES
    if (rel >= tb.earliest) {
      live = tb.countLive(rel)
      work += slots
    }
    if (live >= TABLE_MAX_ENTRIES * 0.75 && split(part, tb, rel)) return true
    if (live >= TABLE_MAX_ENTRIES) return false
    stats.purges++
    rebuild(part, tb, slots, rel)
    return true
  }

  /** Whether dropping `tb`'s expired pairs may free a slot, and it was not done in the last 100 ms. */
  function purgeable(tb: Table, at: number): boolean {
    const rel = at - tb.base
    return rel >= tb.earliest && rel - tb.lastPurge >= PURGE_EVERY_MS
  }

  /** Check one partition per call; drop it if every pair in it has expired (O(1) amortised). */
  function sweepOne(at: number, current: Partition): void {
    if (cursor >= list.length) cursor = 0
    const part = list[cursor] as Partition
    if (part === current || part.latest > at) {
      cursor++
      return
    }
    const last = list.pop() as Partition
    if (last !== part) list[cursor] = last
    partitions.delete(part.keyId)
    occupiedTotal -= part.occupied
    // Keep a few of its full-size tables for the next partition that grows.
    for (let j = 0; j < part.dir.length && pool.length < POOL_MAX; j += 2 ** (part.depth - (part.dir[j] as Table).depth)) {
      const t = (part.dir[j] as Table).t
      if (t.length === TABLE_SLOTS * 4) pool.push(t)
      work++
    }
  }

  function refuse(): SigilError {
    if (work > stats.maxWork) stats.maxWork = work
    return full()
  }

  function checkAndSet(keyId: string, nonce: string, ttlMs: number): boolean {
    if (!(ttlMs >= 0 && ttlMs <= MAX_TTL_MS)) throw new RangeError(`ttlMs must be between 0 and ${MAX_TTL_MS}`)
    const at = now()
    hash(keyId, nonce)
    work = 0
    let part = partitions.get(keyId)
    if (part === undefined) {
      part = {
        keyId,
        dir: [new Table(new Uint32Array(MIN_SLOTS * 4), 0, at - 1)],
        depth: 0,
        tables: 1,
        purgeCell: 0,
        occupied: 0,
        latest: 0,
      }
      partitions.set(keyId, part)
      list.push(part)
    }
    sweepOne(at, part)
    // Cell = the hash's leading `depth` bits (0 cells' worth of bits when depth is 0).
    let tb = part.dir[(h2 >>> 1) >>> (31 - part.depth)] as Table
    if (at - tb.base > REBASE_AFTER_MS) {
      tb.rebase(at)
      work += tb.mask + 1
    }
    const rel = at - tb.base
    // Rounded up: a pair is never forgotten before its TTL.
    const expiry = Math.ceil(rel + ttlMs)
    let r = tb.insert(rel, expiry, h0, h1, h2, part.occupied < perKey && occupiedTotal < total)
    let probed = probes.n
    if (r < 0) {
      if (!makeRoom(part, tb, at)) throw refuse()
      // A split may have moved this pair's cell to the new table (same base, same `rel`).
      tb = part.dir[(h2 >>> 1) >>> (31 - part.depth)] as Table
      r = tb.insert(rel, expiry, h0, h1, h2, part.occupied < perKey && occupiedTotal < total)
      probed += probes.n
      if (r < 0) throw refuse()
    }
    if (probed > stats.maxProbe) stats.maxProbe = probed
    if (work > stats.maxWork) stats.maxWork = work
    if (r === 1) {
      part.occupied++
      occupiedTotal++
    }
    if (r !== 0 && at + ttlMs > part.latest) part.latest = at + ttlMs
    return r !== 0
  }

  const store = {
    get size() {
      const at = now()
      let n = 0
      for (const part of list)
        for (let j = 0; j < part.dir.length; j += 2 ** (part.depth - (part.dir[j] as Table).depth)) {
          const tb = part.dir[j] as Table
          n += tb.countLive(at - tb.base)
        }
      return n
    },
    clear() {
      partitions = new Map()
      list = []
      cursor = 0
      pool = []
      occupiedTotal = 0
    },
    checkAndSet,
  }
  Object.defineProperty(store, STATS, { value: stats })
  return store
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

import type { KeyRecord } from '@sigil/core'
import { hashKeyId, KEY_WORDS, WIDE } from './cached-key-store-hash.js'

/**
 * The found-key table behind {@link createCachedKeyStore}: open addressing (linear probing,
 * at most half full) over one `Int32Array` of 32-byte slots — the entry's deadline, its length
 * code, CLOCK bit and hash tag, and its key id packed inline — with the records in a parallel
 * array. A hit hashes the key id once, compares words in the slot's cache line and reads the
 * record's pointer: two memory accesses wherever the entry sits in a table of a million, never
 * the stored string, no `Map` bucket chain, no per-entry object, and no allocation.
 *
 * Eviction is CLOCK (an approximate LRU: a hit only sets a bit), and admission is TinyLFU: when
 * the table is full, a newly loaded key takes the victim's place only if it was loaded more often
 * recently, so a stream of one-off lookups cannot flush the keys that carry the traffic (no
 * evict → reload → evict thrash). The table grows by doubling until it has room for `max` keys,
 * and never rehashes after that.
 *
 * Built, not bought: `lru-cache` (the well-kept choice) and a plain `Map` with a deadline check
 * were measured against it on a hit with 100 000 keys cached, interleaved in one process on
 * Node 20: the table answered in ~40% of lru-cache's time and ~35% of the Map's (a `Map` hashes
 * the whole string and chases a bucket chain; lru-cache adds its own bookkeeping on top), and
 * neither has an admission policy, so one-off ids would evict the keys that carry the traffic.
 */
export interface KeyTable {
  /** The record if present and fresh at `t`; `null` when absent or stale (a hit sets its bit). */
  hit(keyId: string, t: number): KeyRecord | null
  /** Store a record until `until`. Returns false when admission kept it out. */
  put(keyId: string, record: KeyRecord, until: number, t: number): boolean
  remove(keyId: string): void
  clear(): void
  readonly size: number
  readonly evictions: number
  readonly rejections: number
}

const MAX_COUNT = 15
const DEPTH = 4

/** Count-min sketch of recent use, 4 rows of byte counters (≥ 1024 wide), halved every `10 × width` adds. */
function frequencySketch(capacity: number) {
  let width = 1024
  while (width < capacity) width *= 2
  const mask = width - 1
  const counts = new Uint8Array(width * DEPTH)
  const limit = 10 * width
  let adds = 0
  const cells = new Int32Array(DEPTH)
  // Rows by double hashing of the key id's table hash.
  const index = (h: number) => {
    let g = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d)
    g = (g ^ (g >>> 12)) | 1
    for (let d = 0; d < DEPTH; d++) cells[d] = d * width + ((h + d * g) & mask)
  }
  const estimate = (h: number) => {
    index(h)
    let m = MAX_COUNT
    for (let d = 0; d < DEPTH; d++) m = Math.min(m, counts[cells[d] as number] as number)
    return m
  }
  const add = (h: number) => {
    index(h)
    for (let d = 0; d < DEPTH; d++) {
      const s = cells[d] as number
      if ((counts[s] as number) < MAX_COUNT) counts[s] = (counts[s] as number) + 1
    }
    if (++adds >= limit) {
      adds = 0
      for (let i = 0; i < counts.length; i++) counts[i] = (counts[i] as number) >>> 1
    }
  }
  return { estimate, add }
}

// A slot is 8 Int32 words (two slots to a 64-byte cache line).
const STRIDE = 8
const UNTIL = 0
/** Bit 0: CLOCK reference bit; bits 1-7: length code (0 = empty); bits 16-31: the hash's top 16 bits. */
const META = 1
const KEY = 2
const MIN_SLOTS = 64
// Deadlines are stored as Int32 milliseconds from `base`; past 2^30 ms (12 days) from it, the
// table is rebuilt on a new base (a deadline further out is kept as 2^31 - 1: earlier, never later).
const REBASE_MS = 2 ** 30
const INT32_MAX = 2 ** 31 - 1

function slotsFor(keys: number): number {
  let n = MIN_SLOTS
  while (n < keys * 2) n *= 2
  return n
}

/** A table of at most `max` keys; `seed` keys the hash (random unless a test fixes it). */
export function createKeyTable(max: number, seed = crypto.getRandomValues(new Int32Array(1))[0] as number): KeyTable {
  const sketch = frequencySketch(max)
  const limit = slotsFor(max)
  // The hashed and packed key id of the current operation (see hashKeyId).
  const probe = new Int32Array(1 + KEY_WORDS)
  // The id `probe` holds and its hash: a miss's `put` follows its `hit` on the same id (a
  // synchronous store answered in between), which then hashes it once. The string is compared,
  // never trusted by identity alone.
  let lastId: string | undefined
  let lastHash = 0
  const hashOf = (keyId: string): number => {
    if (keyId === lastId) return lastHash
    lastHash = hashKeyId(keyId, seed, probe)
    lastId = keyId
    return lastHash
  }
  let slots = new Int32Array(MIN_SLOTS * STRIDE)
  let hashes = new Int32Array(MIN_SLOTS)
  let records: Array<KeyRecord | undefined> = new Array(MIN_SLOTS).fill(undefined)
  // Only ids too long or too wide to sit inline are kept as strings, and this array exists only
  // once there is one: an inline id is compared in its slot, and keeping the caller's string would
  // keep alive what it was sliced from (a request's whole Signature-Input value, ~180 B a key).
  let ids: Array<string | undefined> | undefined
  let mask = MIN_SLOTS - 1
  let count = 0
  let hand = 0
  let base = 0
  let based = false
  let evictions = 0
  let rejections = 0

  /** The slot of `keyId` (packed in `probe`, hash `h`), or -1. */
  const find = (keyId: string, h: number): number => {
    const code = probe[0] as number
    const tag = (h & 0xffff0000) | (code << 1)
    let p = h & mask
    for (;;) {
      const o = p * STRIDE
      const meta = slots[o + META] as number
      if (meta === 0) return -1
      if (
        (meta & ~1) === tag &&
        slots[o + KEY] === probe[1] &&
        slots[o + KEY + 1] === probe[2] &&
        slots[o + KEY + 2] === probe[3] &&
        slots[o + KEY + 3] === probe[4] &&
        slots[o + KEY + 4] === probe[5] &&
        slots[o + KEY + 5] === probe[6] &&
        (code !== WIDE || (ids as Array<string | undefined>)[p] === keyId)
      )
        return p
      p = (p + 1) & mask
    }
  }

  /** Take the first empty slot of `keyId`'s probe sequence (packed in `probe`, hash `h`). */
  const place = (keyId: string, h: number): number => {
    let p = h & mask
    while (slots[p * STRIDE + META] !== 0) p = (p + 1) & mask
    const o = p * STRIDE
    slots[o + META] = (h & 0xffff0000) | ((probe[0] as number) << 1)
    for (let w = 0; w < KEY_WORDS; w++) slots[o + KEY + w] = probe[1 + w] as number
    hashes[p] = h
    if (probe[0] === WIDE) {
      if (ids === undefined) ids = new Array(mask + 1).fill(undefined)
      ids[p] = keyId
    }
    count++
    return p
  }

  /** Empty slot `p`, moving later entries of its cluster back (no tombstones, probes stay short). */
  const removeAt = (p: number) => {
    let hole = p
    let q = p
    for (;;) {
      q = (q + 1) & mask
      if (slots[q * STRIDE + META] === 0) break
      const home = (hashes[q] as number) & mask
      // The entry at q may fill the hole unless its home lies cyclically in (hole, q].
      if (hole <= q ? hole < home && home <= q : hole < home || home <= q) continue
      slots.copyWithin(hole * STRIDE, q * STRIDE, q * STRIDE + STRIDE)
      hashes[hole] = hashes[q] as number
      records[hole] = records[q]
      if (ids) ids[hole] = ids[q]
      hole = q
    }
    slots.fill(0, hole * STRIDE, hole * STRIDE + STRIDE)
    records[hole] = undefined
    if (ids) ids[hole] = undefined
    count--
  }

  /** Rebuild with `size` slots, keeping the entries still fresh at `t`, deadlines from `newBase`. */
  const rebuild = (size: number, t: number, newBase: number) => {
    const old = { slots, hashes, records, ids }
    const now = t - base
    const shift = base - newBase
    slots = new Int32Array(size * STRIDE)
    hashes = new Int32Array(size)
    records = new Array(size).fill(undefined)
    ids = old.ids && new Array(size).fill(undefined)
    mask = size - 1
    count = 0
    hand = 0
    base = newBase
    for (let p = 0; p < old.hashes.length; p++) {
      const o = p * STRIDE
      if (old.slots[o + META] === 0 || (old.slots[o + UNTIL] as number) <= now) continue
      const h = old.hashes[p] as number
      let q = h & mask
      while (slots[q * STRIDE + META] !== 0) q = (q + 1) & mask
      slots.set(old.slots.subarray(o, o + STRIDE), q * STRIDE)
      slots[q * STRIDE + UNTIL] = Math.min(INT32_MAX, (old.slots[o + UNTIL] as number) + shift)
      hashes[q] = h
      records[q] = old.records[p]
      if (ids) ids[q] = (old.ids as Array<string | undefined>)[p]
      count++
    }
  }

  /**
   * CLOCK: pass over recently hit entries (clearing their bit and counting them in the sketch, so
   * busy keys keep their frequency without the hit path touching it) to a victim; a stale one goes
   * at once, a fresh one only if the newcomer (hash `h`) was loaded more often. False if it stays.
   */
  const makeRoom = (h: number, t: number): boolean => {
    const now = t - base
    for (;;) {
      const o = hand * STRIDE
      const meta = slots[o + META] as number
      if (meta !== 0) {
        if ((meta & 1) === 0 || (slots[o + UNTIL] as number) <= now) break
        slots[o + META] = meta & ~1
        sketch.add(hashes[hand] as number)
      }
      hand = (hand + 1) & mask
    }
    if ((slots[hand * STRIDE + UNTIL] as number) > now && sketch.estimate(h) <= sketch.estimate(hashes[hand] as number)) {
      rejections++
      return false
    }
    removeAt(hand)
    evictions++
    return true
  }

  const reset = () => {
    slots = new Int32Array(MIN_SLOTS * STRIDE)
    hashes = new Int32Array(MIN_SLOTS)
    records = new Array(MIN_SLOTS).fill(undefined)
    ids = undefined
    mask = MIN_SLOTS - 1
    count = 0
    hand = 0
  }

  return {
    hit(keyId, t) {
      const p = find(keyId, hashOf(keyId))
      if (p < 0) return null
      const o = p * STRIDE
      if ((slots[o + UNTIL] as number) <= t - base) return null
      const meta = slots[o + META] as number
      if ((meta & 1) === 0) slots[o + META] = meta | 1
      return records[p] as KeyRecord
    },
    put(keyId, record, until, t) {
      if (!based) {
        base = t
        based = true
      } else if (t - base > REBASE_MS || base - t > REBASE_MS) rebuild(mask + 1, t, t)
      const h = hashOf(keyId)
      sketch.add(h)
      let p = find(keyId, h)
      if (p < 0) {
        if (count >= max) {
          if (!makeRoom(h, t)) return false
        } else if ((count + 1) * 2 > mask + 1 && mask + 1 < limit) rebuild((mask + 1) * 2, t, base)
        // (Making room moves entries but never hashes: `probe` still holds this key id.) A wide id
        // is kept as the record's own string when equal, not the caller's (maybe a slice of a header).
        p = place(record.keyId === keyId ? record.keyId : keyId, h)
      }
      slots[p * STRIDE + UNTIL] = Math.min(INT32_MAX, Math.floor(until - base))
      records[p] = record
      return true
    },
    remove(keyId) {
      const p = find(keyId, hashOf(keyId))
      if (p >= 0) removeAt(p)
    },
    clear: reset,
    get size() {
      return count
    },
    get evictions() {
      return evictions
    },
    get rejections() {
      return rejections
    },
  }
}

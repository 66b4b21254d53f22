import type { KeyRecord } from '@sigil/core'

/**
 * The found-key table behind {@link createCachedKeyStore}: a `Map` from key id to a slot, and the
 * slots in parallel arrays (record, deadline, reference bit). Eviction is CLOCK (an approximate
 * LRU: a hit only sets a bit, so the hit path allocates nothing and costs the same at 100 keys or
 * 1 M), and admission is TinyLFU: when the table is full, a newly loaded key takes the victim's
 * slot only if it was loaded more often recently, so a stream of one-off lookups cannot flush the
 * keys that carry the traffic (no evict → reload → evict thrash).
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
  const slots = new Int32Array(DEPTH)
  const index = (keyId: string) => {
    // FNV-1a, then double hashing for the other rows.
    let h = 0x811c9dc5
    for (let i = 0; i < keyId.length; i++) h = Math.imul(h ^ keyId.charCodeAt(i), 0x01000193)
    let g = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d)
    g = (g ^ (g >>> 12)) | 1
    for (let d = 0; d < DEPTH; d++) slots[d] = d * width + ((h + d * g) & mask)
  }
  const estimate = (keyId: string) => {
    index(keyId)
    let m = MAX_COUNT
    for (let d = 0; d < DEPTH; d++) m = Math.min(m, counts[slots[d] as number] as number)
    return m
  }
  const add = (keyId: string) => {
    index(keyId)
    for (let d = 0; d < DEPTH; d++) {
      const s = slots[d] as number
      if ((counts[s] as number) < MAX_COUNT) counts[s] = (counts[s] as number) + 1
    }
    if (++adds >= limit) {
      adds = 0
      for (let i = 0; i < counts.length; i++) counts[i] = (counts[i] as number) >>> 1
    }
  }
  return { estimate, add }
}

/** A table of at most `max` keys; arrays grow on demand up to `max`. */
export function createKeyTable(max: number): KeyTable {
  const index = new Map<string, number>()
  const ids: Array<string | undefined> = []
  const records: Array<KeyRecord | undefined> = []
  let until = new Float64Array(Math.min(max, 1024))
  let ref = new Uint8Array(until.length)
  const free: number[] = []
  const sketch = frequencySketch(max)
  let used = 0
  let hand = 0
  let evictions = 0
  let rejections = 0

  const slotFor = (keyId: string, t: number): number => {
    const f = free.pop()
    if (f !== undefined) return f
    if (used < max) {
      if (used === until.length) {
        const n = Math.min(max, until.length * 2)
        const u = new Float64Array(n)
        u.set(until)
        until = u
        const r = new Uint8Array(n)
        r.set(ref)
        ref = r
      }
      return used++
    }
    // CLOCK: pass over recently hit entries (clearing their bit); a stale entry is a victim at once.
    // Each pass over a hit entry also counts it in the sketch, so busy keys keep their frequency
    // without the hit path touching the sketch.
    while (ref[hand] === 1 && (until[hand] as number) > t) {
      ref[hand] = 0
      sketch.add(ids[hand] as string)
      hand = hand + 1 === max ? 0 : hand + 1
    }
    const victim = hand
    const old = ids[victim] as string
    if ((until[victim] as number) > t && sketch.estimate(keyId) <= sketch.estimate(old)) {
      rejections++
      return -1
    }
    hand = hand + 1 === max ? 0 : hand + 1
    index.delete(old)
    evictions++
    return victim
  }

  return {
    hit(keyId, t) {
      const s = index.get(keyId)
      if (s === undefined || (until[s] as number) <= t) return null
      ref[s] = 1
      return records[s] as KeyRecord
    },
    put(keyId, record, u, t) {
      sketch.add(keyId)
      let s = index.get(keyId)
      if (s === undefined) {
        s = slotFor(keyId, t)
        if (s < 0) return false
        index.set(keyId, s)
        ids[s] = keyId
        ref[s] = 0
      }
      records[s] = record
      until[s] = u
      return true
    },
    remove(keyId) {
      const s = index.get(keyId)
      if (s === undefined) return
      index.delete(keyId)
      ids[s] = undefined
      records[s] = undefined
      until[s] = 0
      ref[s] = 0
      free.push(s)
    },
    clear() {
      index.clear()
      ids.length = 0
      records.length = 0
      free.length = 0
      until.fill(0)
      ref.fill(0)
      used = 0
      hand = 0
    },
    get size() {
      return index.size
    },
    get evictions() {
      return evictions
    },
    get rejections() {
      return rejections
    },
  }
}

import type { KeyRecord } from '@sigil/core'

/**
 * The found-key table behind {@link createCachedKeyStore}: a `Map` from key id to a slot object
 * (record, deadline, reference bit; one cache line, reused on eviction). Eviction is CLOCK (an
 * approximate LRU: a hit only sets a bit, so the hit path is one `Map` lookup, allocates nothing
 * and does O(1) work at any size), and admission is TinyLFU: when the table is full, a newly loaded key takes the victim's
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

interface Slot {
  keyId: string
  record: KeyRecord | undefined
  until: number
  /** CLOCK reference bit: hit since the hand last passed. */
  ref: boolean
}

/** A table of at most `max` keys. A slot is one small object, reused when its key is evicted. */
export function createKeyTable(max: number): KeyTable {
  const index = new Map<string, Slot>()
  // The CLOCK ring: slots in insertion order; the hand walks it when the table is full.
  const ring: Slot[] = []
  const free: Slot[] = []
  const sketch = frequencySketch(max)
  let hand = 0
  let evictions = 0
  let rejections = 0

  const slotFor = (keyId: string, t: number): Slot | undefined => {
    const f = free.pop()
    if (f) return f
    if (ring.length < max) {
      const s: Slot = { keyId, record: undefined, until: 0, ref: false }
      ring.push(s)
      return s
    }
    // CLOCK: pass over recently hit entries (clearing their bit and counting them in the sketch, so
    // busy keys keep their frequency without the hit path touching it); a stale entry goes at once.
    let s = ring[hand] as Slot
    while (s.ref && s.until > t) {
      s.ref = false
      sketch.add(s.keyId)
      hand = hand + 1 === max ? 0 : hand + 1
      s = ring[hand] as Slot
    }
    if (s.until > t && s.record !== undefined && sketch.estimate(keyId) <= sketch.estimate(s.keyId)) {
      rejections++
      return undefined
    }
    hand = hand + 1 === max ? 0 : hand + 1
    if (s.record !== undefined) {
      index.delete(s.keyId)
      evictions++
    }
    return s
  }

  return {
    hit(keyId, t) {
      const s = index.get(keyId)
      if (s === undefined || s.until <= t) return null
      s.ref = true
      return s.record as KeyRecord
    },
    put(keyId, record, until, t) {
      sketch.add(keyId)
      let s = index.get(keyId)
      if (s === undefined) {
        s = slotFor(keyId, t)
        if (s === undefined) return false
        s.keyId = keyId
        s.ref = false
        index.set(keyId, s)
      }
      s.record = record
      s.until = until
      return true
    },
    remove(keyId) {
      const s = index.get(keyId)
      if (s === undefined) return
      index.delete(keyId)
      s.record = undefined
      s.until = 0
      s.ref = false
      free.push(s)
    },
    clear() {
      index.clear()
      ring.length = 0
      free.length = 0
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

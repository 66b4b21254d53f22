// One open-addressing hash table of (keyId, nonce) fingerprints and expiries over a typed array:
// the memory nonce store's unit of storage, rehash and reuse (memory-nonce-store.ts).

// Slot layout: three 32-bit fingerprint words and a 32-bit expiry, in ms after the table's `base`
// (0 = empty, never written for a live or expired entry since `rel` is always >= 1). 16 bytes.
export const MIN_SLOTS = 64
// Linear probing stays short below half full.
const MAX_LOAD = 0.5
/**
 * The largest table (64 KiB). A key id's pairs live in tables of at most this many slots, found
 * through a directory indexed by hash bits (extendible hashing): a full table is split in two,
 * never rebuilt with the rest, so memory grows in fixed 64 KiB blocks and no call rehashes more
 * than one table.
 */
export const TABLE_SLOTS = 4096
export const TABLE_MAX_ENTRIES = TABLE_SLOTS * MAX_LOAD

export function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** Slots probed by the last `insert`, or by `refill` (a field, not a second return value). */
export const probes = { n: 0 }

// A table's slots while it is refilled in place; single-threaded and never re-entered, so shared.
let scratch: Uint32Array | undefined

/** One table; slot i is t[4i..4i+3], one cache line per probe. */
export class Table {
  mask: number
  /** Non-empty slots, live or expired. */
  occupied = 0
  /** A lower bound on every stored expiry; while `rel` is below it nothing has expired. */
  earliest = 0xffffffff
  /** When its expired pairs were last dropped at the key's share (`rel`). */
  lastPurge = Number.NEGATIVE_INFINITY

  constructor(
    public t: Uint32Array,
    /** Leading hash bits shared by every pair here (extendible hashing's local depth). */
    public depth: number,
    /** `rel` = now - base >= 1 always, so an expiry of 0 can mark an empty slot. */
    public base: number,
  ) {
    this.mask = t.length / 4 - 1
  }

  /** 1: stored in a new slot; 2: stored over an expired one; 0: seen; -1: needs a new slot, none allowed. */
  insert(rel: number, expiry: number, h0: number, h1: number, h2: number, roomLeft: boolean): number {
    const t = this.t
    const wrap = this.mask * 4 + 3
    // The slot comes from the fingerprint, so a rebuild can place entries without their pair.
    let s = (h0 & this.mask) * 4
    let reuse = -1
    let n = 1
    for (;;) {
      const e = t[s + 3] as number
      if (e === 0) break
      if ((t[s] as number) === h0 && (t[s + 1] as number) === h1 && (t[s + 2] as number) === h2) {
        probes.n = n
        if (e > rel) return 0
        // The same pair, expired: renew it in place.
        t[s + 3] = expiry
        if (expiry < this.earliest) this.earliest = expiry
        return 2
      }
      if (reuse < 0 && e <= rel) reuse = s
      s = (s + 4) & wrap
      n++
    }
    probes.n = n
    let r = 2
    if (reuse < 0) {
      // A new slot: only below the load limit, the key's share and the store's cap.
      if (!roomLeft || this.occupied + 1 > (this.mask + 1) * MAX_LOAD) return -1
      reuse = s
      this.occupied++
      r = 1
    }
    t[reuse] = h0
    t[reuse + 1] = h1
    t[reuse + 2] = h2
    t[reuse + 3] = expiry
    if (expiry < this.earliest) this.earliest = expiry
    return r
  }

  countLive(rel: number): number {
    const t = this.t
    let n = 0
    for (let i = 3; i < t.length; i += 4) if ((t[i] as number) > rel) n++
    return n
  }

  /** Move `base` up to `at - 1` (expiries are Uint32 ms after it): one pass over the slots. */
  rebase(at: number): void {
    const shift = at - 1 - this.base
    const t = this.t
    for (let i = 3; i < t.length; i += 4) {
      const e = t[i] as number
      // An entry already expired stays an occupied, expired slot (1 <= any future rel).
      if (e !== 0) t[i] = e > shift + 1 ? e - shift : 1
    }
    this.earliest = this.earliest > shift + 1 ? this.earliest - shift : 1
    this.lastPurge -= shift
    this.base += shift
  }

  /**
   * Refill this table with its pairs live at `rel`, in `t` (a new, zeroed array; or `undefined`:
   * the same one, rehashed in place from a copy). With `other`, the pairs whose hash bit `bit`
   * (from the top) is 1 go there instead: a split. Expired pairs are dropped. Returns the pairs
   * dropped; `probes.n` counts the slots probed.
   */
  refill(rel: number, t: Uint32Array | undefined, other?: Table, bit = 0): number {
    const old = this.t
    const n = old.length
    const before = this.occupied + (other ? other.occupied : 0)
    let src = old
    if (t === undefined) {
      scratch ??= new Uint32Array(TABLE_SLOTS * 4)
      scratch.set(old)
      old.fill(0)
      src = scratch
    } else {
      this.t = t
      this.mask = t.length / 4 - 1
    }
    this.occupied = 0
    this.earliest = 0xffffffff
    let probed = 0
    const shift = 31 - bit
    for (let i = 0; i < n; i += 4) {
      const e = src[i + 3] as number
      if (e <= rel) continue
      const f0 = src[i] as number
      const f2 = src[i + 2] as number
      const to = other !== undefined && ((f2 >>> shift) & 1) === 1 ? other : this
      const tt = to.t
      const wrap = to.mask * 4 + 3
      let s = (f0 & to.mask) * 4
      while ((tt[s + 3] as number) !== 0) {
        s = (s + 4) & wrap
        probed++
      }
      tt[s] = f0
      tt[s + 1] = src[i + 1] as number
      tt[s + 2] = f2
      tt[s + 3] = e
      to.occupied++
      if (e < to.earliest) to.earliest = e
    }
    probes.n = probed
    return before - this.occupied - (other ? other.occupied : 0)
  }
}

import { SigilError } from '@sigil/core'
import { describe, expect, it } from 'vitest'
import { describeNonceStore } from '../testing.js'
import { createMemoryNonceStore, type MemoryNonceStoreStats, STATS, TABLE_MAX_ENTRIES, TABLE_SLOTS } from './memory-nonce-store.js'

describeNonceStore('memory', () => createMemoryNonceStore())

const statsOf = (s: object) => (s as Record<typeof STATS, MemoryNonceStoreStats>)[STATS]
// The heaviest call: a count of live pairs, then a split with a directory doubling (at a 1M share
// at most 4,096 cells): the table copied, cleared, rescanned and refilled into two — about 6
// tables' worth of slots, well under 8 (512 KiB of a share that spans 2M+ slots).
const MAX_WORK_SLOTS = 8 * TABLE_SLOTS

function clock(start = 1_735_689_600_000) {
  let t = start
  return { now: () => t, advance: (ms: number) => (t += ms) }
}

describe('createMemoryNonceStore', () => {
  it('never accepts a replay while the table grows and rebuilds', () => {
    const c = clock()
    const s = createMemoryNonceStore({ now: c.now, maxEntries: 100_000, maxEntriesPerKey: 100_000 })
    let accepted = 0
    for (let i = 0; i < 50_000; i++) if (s.checkAndSet('k1', `n${i}`, 600_000)) accepted++
    expect(accepted).toBe(50_000)
    for (let i = 0; i < 50_000; i++) if (s.checkAndSet('k1', `n${i}`, 600_000)) accepted++
    expect(accepted).toBe(50_000)
    expect(s.size).toBe(50_000)
  })

  it('keeps a pair until its TTL has fully passed, then accepts it again', () => {
    const c = clock()
    const s = createMemoryNonceStore({ now: c.now })
    expect(s.checkAndSet('k1', 'n', 1000)).toBe(true)
    c.advance(999)
    expect(s.checkAndSet('k1', 'n', 1000)).toBe(false)
    c.advance(1)
    expect(s.checkAndSet('k1', 'n', 1000)).toBe(true)
    expect(s.checkAndSet('k1', 'n', 1000)).toBe(false)
  })

  it('reuses expired slots, so a steady stream does not grow the table', () => {
    const c = clock()
    const s = createMemoryNonceStore({ now: c.now, maxEntries: 2000, maxEntriesPerKey: 2000 })
    for (let i = 0; i < 20_000; i++) {
      expect(s.checkAndSet('k1', `n${i}`, 1000)).toBe(true)
      c.advance(1)
    }
    expect(s.size).toBeLessThanOrEqual(1000)
    // Recent ones are still remembered.
    expect(s.checkAndSet('k1', 'n19999', 1000)).toBe(false)
  })

  it('fails closed when full of unexpired pairs, and recovers once they expire', () => {
    const c = clock()
    const s = createMemoryNonceStore({ now: c.now, maxEntries: 3, maxEntriesPerKey: 3 })
    for (const n of ['a', 'b', 'c']) expect(s.checkAndSet('k1', n, 1000)).toBe(true)
    const full = () => s.checkAndSet('k1', 'd', 1000)
    expect(full).toThrow(SigilError)
    try {
      full()
    } catch (e) {
      expect((e as SigilError).code).toBe('STORE_UNAVAILABLE')
    }
    // Seen pairs are still reported as seen while full.
    expect(s.checkAndSet('k1', 'a', 1000)).toBe(false)
    c.advance(1000)
    expect(s.checkAndSet('k1', 'd', 1000)).toBe(true)
    expect(s.checkAndSet('k1', 'd', 1000)).toBe(false)
  })

  it('fails closed at maxEntries even with room in the table', () => {
    const c = clock()
    const s = createMemoryNonceStore({ now: c.now, maxEntries: 1500, maxEntriesPerKey: 1500 })
    for (let i = 0; i < 1500; i++) expect(s.checkAndSet('k1', `n${i}`, 60_000)).toBe(true)
    expect(() => s.checkAndSet('k1', 'x', 60_000)).toThrow(/full/)
    c.advance(30_000)
    expect(() => s.checkAndSet('k1', 'x', 60_000)).toThrow(/full/)
    for (let i = 0; i < 1500; i++) expect(s.checkAndSet('k1', `n${i}`, 60_000)).toBe(false)
  })

  it('keeps expiries right across a rebase of its clock origin (~25 days of uptime)', () => {
    const c = clock()
    const s = createMemoryNonceStore({ now: c.now })
    expect(s.checkAndSet('k1', 'old', 1000)).toBe(true)
    c.advance(2 ** 31 - 500)
    expect(s.checkAndSet('k1', 'long', 600_000)).toBe(true)
    c.advance(1000)
    expect(s.checkAndSet('k1', 'long', 600_000)).toBe(false)
    expect(s.checkAndSet('k1', 'old', 1000)).toBe(true)
    c.advance(599_000)
    expect(s.checkAndSet('k1', 'long', 600_000)).toBe(true)
  })

  it('keeps key ids and nonces that differ only in where they split apart', () => {
    const s = createMemoryNonceStore()
    expect(s.checkAndSet('ab', 'c', 1000)).toBe(true)
    expect(s.checkAndSet('a', 'bc', 1000)).toBe(true)
    expect(s.checkAndSet('abc', '', 1000)).toBe(true)
    expect(s.checkAndSet('', 'abc', 1000)).toBe(true)
  })

  it('rejects a TTL it cannot represent instead of forgetting early', () => {
    const s = createMemoryNonceStore()
    expect(() => s.checkAndSet('k1', 'n', 2 ** 32)).toThrow(RangeError)
    expect(() => s.checkAndSet('k1', 'n', Number.NaN)).toThrow(RangeError)
  })

  it('clear() forgets everything', () => {
    const s = createMemoryNonceStore()
    expect(s.checkAndSet('k1', 'n', 1000)).toBe(true)
    s.clear()
    expect(s.size).toBe(0)
    expect(s.checkAndSet('k1', 'n', 1000)).toBe(true)
  })

  it('is fair: key A flooding to its share never changes key B outcome (issue 11)', () => {
    const c = clock()
    const s = createMemoryNonceStore({ now: c.now, maxEntriesPerKey: 20_000 })
    let aRefused = 0
    let bAccepted = 0
    const bTotal = 2_000
    for (let i = 0; i < 40_000; i++) {
      try {
        s.checkAndSet('kFloodA', `a${i}`, 600_000)
      } catch (e) {
        expect((e as SigilError).code).toBe('STORE_UNAVAILABLE')
        aRefused++
      }
      if (i % 20 === 0) {
        if (s.checkAndSet('kVictimB', `b${i}`, 600_000)) bAccepted++
        expect(s.checkAndSet('kVictimB', `b${i}`, 600_000)).toBe(false)
      }
      c.advance(i % 100 === 0 ? 1 : 0)
    }
    // A hit its own share (and only roughly at it: shards fill about evenly) ...
    expect(aRefused).toBeGreaterThan(15_000)
    // ... while every one of B's fresh nonces was accepted and every replay refused.
    expect(bAccepted).toBe(bTotal)
    // A's pairs are still all remembered: a full share never forgets early.
    for (let i = 0; i < 1000; i++) expect(s.checkAndSet('kFloodA', `a${i}`, 600_000)).toBe(false)
  })

  it('with maxEntries alone, a key that floods leaves the others room: its default share is an eighth of the cap (issue 23)', () => {
    const c = clock()
    const s = createMemoryNonceStore({ now: c.now, maxEntries: 8_000 })
    let floodAccepted = 0
    let floodRefused = 0
    for (let i = 0; i < 10_000; i++) {
      try {
        if (s.checkAndSet('kFlood', `f${i}`, 600_000)) floodAccepted++
      } catch (e) {
        expect((e as SigilError).code).toBe('STORE_UNAVAILABLE')
        floodRefused++
      }
    }
    expect(floodAccepted).toBe(1_000)
    expect(floodRefused).toBe(9_000)
    // Another key is accepted, up to its own share, and its replays refused.
    for (let i = 0; i < 1_000; i++) expect(s.checkAndSet('kOther', `o${i}`, 600_000)).toBe(true)
    expect(s.checkAndSet('kOther', 'o0', 600_000)).toBe(false)
    // Five more keys flooding (seven keys at their share) still leave the last eighth to the others.
    for (let k = 0; k < 5; k++)
      for (let i = 0; i < 2_000; i++) {
        try {
          s.checkAndSet(`kFlood${k}`, `f${i}`, 600_000)
        } catch {}
      }
    expect(s.checkAndSet('kLast', 'n0', 600_000)).toBe(true)
    // The flood's pairs are all remembered.
    for (let i = 0; i < 1_000; i++) expect(s.checkAndSet('kFlood', `f${i}`, 600_000)).toBe(false)
  })

  it('many keys share nothing: each is capped alone, and expired partitions are swept', () => {
    const c = clock()
    const s = createMemoryNonceStore({ now: c.now, maxEntriesPerKey: 100 })
    for (let k = 0; k < 50; k++) for (let i = 0; i < 100; i++) expect(s.checkAndSet(`k${k}`, `n${i}`, 1000)).toBe(true)
    expect(() => s.checkAndSet('k0', 'one-more', 1000)).toThrow(/full/)
    expect(s.checkAndSet('kNew', 'n0', 1000)).toBe(true)
    expect(s.size).toBe(5001)
    c.advance(1001)
    // Each call sweeps one expired partition; after enough calls they are all gone.
    for (let i = 0; i < 100; i++) s.checkAndSet('kLive', `n${i}`, 1000)
    expect(s.size).toBe(100)
    expect(s.checkAndSet('k0', 'n0', 1000)).toBe(true)
  })

  it('no call does more than a bounded amount of work while one key floods past a 1M share (issue 11)', () => {
    // The deterministic stand-in for "no call blocks the loop": slots read or written by the
    // heaviest call (a table split, at most one per call). Wall-clock figures: test/bench.
    const c = clock()
    const share = 1_000_000
    const s = createMemoryNonceStore({ now: c.now, maxEntriesPerKey: share })
    let accepted = 0
    let refused = 0
    let victimAccepted = 0
    let victimReplayRefused = 0
    for (let i = 0; i < 1_050_000; i++) {
      try {
        if (s.checkAndSet('kFloodA', `n${i}`, 600_000)) accepted++
      } catch (e) {
        if ((e as SigilError).code !== 'STORE_UNAVAILABLE') throw e
        refused++
      }
      if (i % 1000 === 0) {
        if (s.checkAndSet('kVictimB', `v${i}`, 600_000)) victimAccepted++
        if (!s.checkAndSet('kVictimB', `v${i}`, 600_000)) victimReplayRefused++
      }
      if (i % 10_000 === 0) c.advance(1)
    }
    // A gets exactly its share, B every one of its requests (and none of its replays).
    expect(accepted).toBe(share)
    expect(refused).toBe(50_000)
    expect(victimAccepted).toBe(1050)
    expect(victimReplayRefused).toBe(1050)
    const st = statsOf(s)
    // Many tables split on the way (memory grew in 64 KiB blocks) ...
    expect(st.splits).toBeGreaterThan(share / TABLE_MAX_ENTRIES - 1)
    // ... and no call touched more than a few tables' worth of slots (the whole share is 2M+).
    expect(st.maxWork).toBeLessThanOrEqual(MAX_WORK_SLOTS)
    expect(st.maxProbe).toBeLessThanOrEqual(200)
    // A full share is still remembered, pair by pair.
    for (let i = 0; i < share; i += 997) expect(s.checkAndSet('kFloodA', `n${i}`, 600_000)).toBe(false)
  }, 60_000)

  it('a key at its share gets all of it back once its pairs expire, never earlier', () => {
    const c = clock()
    const share = 20_000
    const s = createMemoryNonceStore({ now: c.now, maxEntriesPerKey: share })
    const accepted = (prefix: string) => {
      let n = 0
      for (let i = 0; i < share; i++) if (s.checkAndSet('k', `${prefix}${i}`, 10_000)) n++
      return n
    }
    expect(accepted('a')).toBe(share)
    expect(() => s.checkAndSet('k', 'one-more', 10_000)).toThrow(/full/)
    c.advance(9_999)
    expect(accepted('a')).toBe(0)
    expect(() => s.checkAndSet('k', 'one-more', 10_000)).toThrow(/full/)
    c.advance(1)
    // Each table that runs out of room drops its expired pairs: the whole share, in one instant.
    expect(accepted('b')).toBe(share)
    expect(() => s.checkAndSet('k', 'one-more', 10_000)).toThrow(/full/)
    expect(statsOf(s).maxWork).toBeLessThanOrEqual(MAX_WORK_SLOTS)
    expect(s.size).toBe(share)
  })

  it('keeps expiries right across a rebase with many tables', () => {
    const c = clock()
    const s = createMemoryNonceStore({ now: c.now })
    const accepted = (ttl: number) => {
      let n = 0
      for (let i = 0; i < 10_000; i++) if (s.checkAndSet('k1', `n${i}`, ttl)) n++
      return n
    }
    expect(accepted(2 ** 31)).toBe(10_000)
    c.advance(2 ** 31 - 1)
    // Each table moves its clock origin when first touched, and still remembers every pair.
    expect(accepted(2 ** 31)).toBe(0)
    c.advance(1)
    expect(accepted(1000)).toBe(10_000)
    expect(s.checkAndSet('k1', 'n0', 1000)).toBe(false)
  })

  it('agrees with a model: never accepts a live pair, never calls a fresh one seen', () => {
    // Three keys over a small nonce space with random TTLs and clock steps: tables grow, split,
    // purge and fill their share while pairs come back, live and expired.
    const c = clock()
    const s = createMemoryNonceStore({ now: c.now, maxEntriesPerKey: 3_000 })
    const model = new Map<string, number>()
    let x = 0x9e3779b9
    const rnd = (n: number) => {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      return (x >>> 0) % n
    }
    const count = { fresh: 0, seen: 0, full: 0, wrong: 0 }
    for (let i = 0; i < 120_000; i++) {
      const key = `k${rnd(3)}`
      const nonce = `n${rnd(10_000)}`
      const ttl = 1 + rnd(20_000)
      const id = `${key} ${nonce}`
      const live = (model.get(id) ?? 0) > c.now()
      let r: boolean | 'full'
      try {
        r = s.checkAndSet(key, nonce, ttl) as boolean
      } catch (e) {
        if ((e as SigilError).code !== 'STORE_UNAVAILABLE') throw e
        r = 'full'
      }
      if (live ? r !== false : r === false) count.wrong++
      if (r === true) {
        model.set(id, c.now() + ttl)
        count.fresh++
      } else if (r === false) count.seen++
      else count.full++
      c.advance(rnd(2))
    }
    expect(count.wrong).toBe(0)
    expect(count.fresh).toBeGreaterThan(10_000)
    expect(count.seen).toBeGreaterThan(10_000)
    expect(count.full).toBeGreaterThan(1_000)
    expect(statsOf(s).purges).toBeGreaterThan(0)
    expect(statsOf(s).maxWork).toBeLessThanOrEqual(MAX_WORK_SLOTS)
  })

  it('reuses the tables of a dropped key instead of allocating again', () => {
    const c = clock()
    const s = createMemoryNonceStore({ now: c.now })
    for (let i = 0; i < 30_000; i++) s.checkAndSet('gone', `n${i}`, 1000)
    const allocated = statsOf(s).allocated
    c.advance(1000)
    // A call sweeps one partition: 'gone' goes, and its tables wait for the next key that grows.
    s.checkAndSet('next', 'n0', 1000)
    for (let i = 1; i < 30_000; i++) s.checkAndSet('next', `n${i}`, 1000)
    expect(statsOf(s).allocated - allocated).toBeLessThanOrEqual(allocated - 16)
  })
})

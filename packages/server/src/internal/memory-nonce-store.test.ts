import { SigilError } from '@sigil/core'
import { describe, expect, it } from 'vitest'
import { describeNonceStore } from '../testing.js'
import { createMemoryNonceStore, SHARD_MAX_ENTRIES } from './memory-nonce-store.js'

describeNonceStore('memory', () => createMemoryNonceStore())

function clock(start = 1_735_689_600_000) {
  let t = start
  return { now: () => t, advance: (ms: number) => (t += ms) }
}

describe('createMemoryNonceStore', () => {
  it('never accepts a replay while the table grows and rebuilds', () => {
    const c = clock()
    const s = createMemoryNonceStore({ now: c.now, maxEntries: 100_000 })
    for (let i = 0; i < 50_000; i++) expect(s.checkAndSet('k1', `n${i}`, 600_000)).toBe(true)
    for (let i = 0; i < 50_000; i++) expect(s.checkAndSet('k1', `n${i}`, 600_000)).toBe(false)
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
    const s = createMemoryNonceStore({ now: c.now, maxEntries: 2000 })
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
    const s = createMemoryNonceStore({ now: c.now, maxEntries: 3 })
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
    const s = createMemoryNonceStore({ now: c.now, maxEntries: 1500 })
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

  it('keeps every table on the request path bounded (no O(store) rebuild): a 1M share fills in shards', () => {
    // Structural bound behind "no call blocks the loop for long"; the figure is printed below.
    expect(SHARD_MAX_ENTRIES).toBeLessThanOrEqual(16_384)
    const c = clock()
    const s = createMemoryNonceStore({ now: c.now, maxEntriesPerKey: 200_000 })
    // A key reaches its whole share although its pairs spread unevenly over shards.
    for (let i = 0; i < 200_000; i++) expect(s.checkAndSet('kA', `n${i}`, 600_000)).toBe(true)
  })

  it('reports the worst single call while one key floods a 1M share (figure, not asserted)', () => {
    const s = createMemoryNonceStore({ maxEntriesPerKey: 1_000_000 })
    const n = 1_300_000
    let worst = 0
    let refused = 0
    let victimOk = 0
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      try {
        s.checkAndSet('kFloodA', `n${i}`, 600_000)
      } catch {
        refused++
      }
      const dt = performance.now() - t0
      if (dt > worst) worst = dt
      if (i % 1000 === 0 && s.checkAndSet('kVictimB', `v${i}`, 600_000)) victimOk++
    }
    console.info(
      `[nonce store] worst single checkAndSet while A floods 1.3M into a 1M share: ${worst.toFixed(2)} ms; A refused ${refused}; B accepted ${victimOk}/${Math.ceil(n / 1000)}`,
    )
    expect(victimOk).toBe(Math.ceil(n / 1000))
    expect(refused).toBeGreaterThan(0)
  }, 120_000)
})

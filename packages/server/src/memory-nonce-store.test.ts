import { SigilError } from '@sigil/core'
import { describe, expect, it } from 'vitest'
import { createMemoryNonceStore } from './memory-nonce-store.js'
import { nonceStoreConformance } from './testing.js'

nonceStoreConformance('memory', () => createMemoryNonceStore())

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
})

import type { KeyRecord } from '@sigil/core'
import { describe, expect, it } from 'vitest'
import { createKeyTable } from './cached-key-store-table.js'

const record = (keyId: string): KeyRecord => ({
  keyId,
  secret: new Uint8Array(32),
  principal: 'acme',
  scopes: [],
  status: 'active',
  createdAt: new Date(0),
})

// A copy that is a different string object with no cached hash, as a header parser produces it.
const fresh = (s: string) => `"${s}"`.slice(1, -1)

const DAY = 24 * 60 * 60 * 1000

describe('createKeyTable', () => {
  it('finds a key by the characters of its id, not by the string object', () => {
    const table = createKeyTable(100)
    const id = 'AbCdEfGhIjKlMnOpQrStUv'
    const r = record(id)
    table.put(id, r, 1000, 0)
    expect(table.hit(fresh(id), 1)).toBe(r)
    expect(table.hit(`${id.slice(0, 21)}w`, 1)).toBeNull()
    expect(table.hit(id.slice(0, 21), 1)).toBeNull()
    expect(table.hit(`${id}x`, 1)).toBeNull()
  })

  it('tells apart ids that pack alike: past 24 characters, non-Latin-1, NUL, empty', () => {
    const table = createKeyTable(100)
    const long = 'x'.repeat(24)
    const ids = [
      `${long}a`,
      `${long}b`,
      long,
      '\u0141\u0000', // packs to the same words as 'A\u0001'
      'A\u0001',
      '\u0141',
      'A',
      'a\u0000',
      'a',
      '',
      '\u{1F511}key',
      'é'.repeat(30),
      'é'.repeat(24),
    ]
    for (const id of ids) table.put(id, record(id), 1000, 0)
    expect(table.size).toBe(ids.length)
    for (const id of ids) expect(table.hit(fresh(id), 1)?.keyId).toBe(id)
    for (const id of ids) {
      table.remove(fresh(id))
      expect(table.hit(id, 1)).toBeNull()
      for (const other of ids.slice(ids.indexOf(id) + 1)) expect(table.hit(other, 1)?.keyId).toBe(other)
    }
    expect(table.size).toBe(0)
  })

  it('compares the whole id when two ids share their first 24 characters and their hash tag', () => {
    // With seed 1 these two hash to the same slot and the same 16-bit tag (found by search).
    const [a, b] = [`${'x'.repeat(24)}6l`, `${'x'.repeat(24)}jp`]
    const table = createKeyTable(10, 1)
    table.put(a, record(a), 1000, 0)
    expect(table.hit(fresh(b), 1)).toBeNull()
    table.put(b, record(b), 1000, 0)
    expect(table.hit(fresh(a), 1)?.keyId).toBe(a)
    expect(table.hit(fresh(b), 1)?.keyId).toBe(b)
  })

  it('grows to hold max keys and keeps every one of them', () => {
    const table = createKeyTable(20_000)
    const ids = Array.from({ length: 20_000 }, (_, i) => `key-${i.toString(36).padStart(8, '0')}-${(i * 7919) % 10007}`)
    expect(ids.filter((id) => !table.put(id, record(id), 1000, 0))).toEqual([])
    expect(table.size).toBe(20_000)
    expect(table.evictions).toBe(0)
    expect(ids.filter((id) => table.hit(fresh(id), 1)?.keyId !== id)).toEqual([])
  })

  it('matches a model under random puts, hits and removes, with clock jumps of days both ways (model check)', () => {
    // Each hit may only return the record last put for that id, and only before its deadline.
    // With room for every id (max ≥ ids) nothing may be missing either before `sure`: deadlines
    // are kept as 32-bit offsets, so one further out than ~12 days from when it was put (or from
    // a step of the clock back) may be cut short — never lengthened — and one the clock passed
    // may be dropped even if the clock steps back before it.
    for (const max of [4, 64, 1_000]) {
      const table = createKeyTable(max)
      const model = new Map<string, { r: KeyRecord; until: number; sure: number }>()
      const ids = Array.from({ length: max === 1_000 ? 300 : 40 }, (_, i) =>
        i % 7 === 0 ? `${'z'.repeat(24)}${i}` : i % 11 === 0 ? `ĸ${i}` : `k${i}`,
      )
      let seed = max
      const rnd = (n: number) => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
        return (seed >>> 8) % n
      }
      let t = 1_700_000_000_000
      for (let step = 0; step < 30_000; step++) {
        const id = ids[rnd(ids.length)] as string
        const op = rnd(100)
        if (op < 5) {
          if (op === 0) t += rnd(20) * DAY
          else if (op === 1) t -= rnd(15) * DAY
          else t += rnd(1000)
          // Once past its sure deadline an entry may go, even if the clock steps back before it.
          for (const e of model.values()) e.sure = e.sure <= t ? 0 : Math.min(e.sure, t + 24 * DAY)
        } else if (op < 15) {
          table.remove(id)
          model.delete(id)
        } else if (op < 45) {
          const r = record(id)
          const until = t + 1 + (rnd(3) === 0 ? rnd(40) * DAY : rnd(5000))
          if (table.put(id, r, until, t)) model.set(id, { r, until, sure: Math.min(until, t + 12 * DAY) })
          else model.delete(id)
        } else {
          const got = table.hit(fresh(id), t)
          const want = model.get(id)
          if (got !== null) {
            expect(got, `step ${step}`).toBe(want?.r)
            expect(want?.until as number, `step ${step}`).toBeGreaterThan(t)
          } else if (max >= ids.length && want && want.sure > t) {
            expect(got, `max ${max} step ${step}: ${id} missing`).not.toBeNull()
          }
        }
        if (table.size > max) expect(table.size, `step ${step}`).toBeLessThanOrEqual(max)
      }
    }
  })

  it('evicts (CLOCK) and admits (TinyLFU) once full: a key hit since the hand passed stays', () => {
    const table = createKeyTable(2)
    table.put('aaaaaaaa', record('aaaaaaaa'), 1000, 0)
    table.put('bbbbbbbb', record('bbbbbbbb'), 1000, 0)
    table.hit('aaaaaaaa', 1)
    expect(table.put('cccccccc', record('cccccccc'), 1000, 0)).toBe(false) // seen once: kept out
    expect(table.put('cccccccc', record('cccccccc'), 1000, 0)).toBe(true) // seen twice: takes b's place
    expect(table.hit('aaaaaaaa', 1)?.keyId).toBe('aaaaaaaa')
    expect(table.hit('bbbbbbbb', 1)).toBeNull()
    expect(table.hit('cccccccc', 1)?.keyId).toBe('cccccccc')
    expect({ size: table.size, evictions: table.evictions, rejections: table.rejections }).toEqual({ size: 2, evictions: 1, rejections: 1 })
  })

  it('lets a stale entry go at once when full, and empties on clear()', () => {
    const table = createKeyTable(1)
    table.put('old', record('old'), 10, 0)
    expect(table.put('new', record('new'), 100, 20)).toBe(true)
    expect(table.hit('new', 21)?.keyId).toBe('new')
    table.clear()
    expect(table.size).toBe(0)
    expect(table.hit('new', 21)).toBeNull()
  })
})

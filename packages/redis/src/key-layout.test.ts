import { describe, expect, it } from 'vitest'
import { keyLayout, utcDay } from './key-layout.js'

/** The Redis Cluster hash tag of a key: the text between the first `{` and the next `}`. */
const hashTag = (key: string) => /\{([^}]*)\}/.exec(key)?.[1]

describe('keyLayout', () => {
  const l = keyLayout('app')
  it('puts every record of one key on the same hash slot', () => {
    const tags = new Set([
      hashTag(l.nonce('AbCd1234', 'n1')),
      hashTag(l.limit('k:AbCd1234', 'rate', 10, 1)),
      hashTag(l.limit('k:AbCd1234', 'quota', 1000, 86400)),
      hashTag(l.usage('AbCd1234', '2025-01-01')),
    ])
    expect([...tags]).toEqual(['app:AbCd1234'])
  })

  it('keeps key ids and principals apart and inside the tag', () => {
    expect(l.limit('p:AbCd1234', 'rate', 10, 1)).toBe('{app:principal:AbCd1234}:rate:10:1')
    expect(hashTag(l.nonce('x}y{z:w', 'n'))).toBe('app:x%7Dy%7Bz%3Aw')
    expect(l.nonce('a', 'b:c')).not.toBe(l.nonce('a:b', 'c'))
  })

  it('names the channel after the prefix, default sigil', () => {
    expect(l.channel).toBe('app:keys:changed')
    expect(keyLayout().channel).toBe('sigil:keys:changed')
  })

  it('refuses prefixes with braces or whitespace', () => {
    for (const p of ['a{', 'a}', 'a b', '']) expect(() => keyLayout(p)).toThrow(/prefix/)
  })

  it('days are UTC', () => {
    expect(utcDay(new Date('2025-03-01T23:59:59-05:00'))).toBe('2025-03-02')
  })
})

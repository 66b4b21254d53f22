import { describe, expect, it } from 'vitest'
import { wireMethod } from './method.js'

describe('wireMethod', () => {
  it('upper-cases the six methods fetch normalizes, in any letter case, and nothing else', () => {
    for (const m of ['delete', 'get', 'head', 'options', 'post', 'put']) {
      for (const spelled of [m, m.toUpperCase(), m[0]?.toUpperCase() + m.slice(1)]) expect(wireMethod(spelled)).toBe(m.toUpperCase())
      // What fetch itself puts on the request: the oracle for the rule.
      expect(new Request('http://x/', { method: m }).method).toBe(wireMethod(m))
    }
    for (const m of ['patch', 'Patch', 'PROPFIND', 'purge', 'x-Custom']) {
      expect(wireMethod(m)).toBe(m)
      expect(new Request('http://x/', { method: m }).method).toBe(m)
    }
    expect(wireMethod('getx')).toBe('getx')
  })
})

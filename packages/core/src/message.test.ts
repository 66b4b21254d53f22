import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { normalizeAuthority } from './message.js'

// RFC 9421 §2.2.3 as a reference: lower case, no surrounding whitespace, no default port.
function reference(host: string, scheme: string): string {
  const h = host.trim().toLowerCase()
  const port = scheme === 'http' ? '80' : scheme === 'https' ? '443' : undefined
  const colon = h.lastIndexOf(':')
  return colon > h.lastIndexOf(']') && port !== undefined && h.slice(colon + 1) === port ? h.slice(0, colon) : h
}

describe('normalizeAuthority', () => {
  it('gives the reference answer for any sequence of hosts and schemes, repeats included', () => {
    const host = fc.constantFrom('api.example.com', 'API.example.com', ' h:443 ', 'h:443', 'h:80', '[::1]:443', '[::1]', 'h:8443', 'h:')
    fc.assert(
      fc.property(fc.array(fc.tuple(host, fc.constantFrom('http', 'https', 'ws')), { minLength: 1, maxLength: 10 }), (calls) => {
        for (const [h, s] of calls) expect(normalizeAuthority(h, s)).toBe(reference(h, s))
      }),
      { numRuns: 1000 },
    )
  })
})

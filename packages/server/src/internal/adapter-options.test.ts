import { ConfigurationError } from '@sigil/core'
import { describe, expect, it } from 'vitest'
import { compileAdapter } from './adapter-options.js'

const keys = { kOptionsTest01: new Uint8Array(32) }

describe('compileAdapter', () => {
  it('passes authority to the verifier and compiles exemptions', () => {
    const a = compileAdapter({ keys, authority: 'API.Example.com', exempt: '/healthz' })
    expect(a.verifier.config.authority).toBe('api.example.com')
    expect(a.verifier.config.trustProxy).toBe(false)
    expect(a.isExempt('GET', '/healthz')).toBe(true)
    expect(a.signing).toBeUndefined()
  })

  it('refuses the old publicAuthority, naming authority, and bad rules', () => {
    expect(() => compileAdapter({ keys, publicAuthority: 'a.example' } as never)).toThrow(
      expect.objectContaining({
        name: 'ConfigurationError',
        message: expect.stringContaining('`publicAuthority` was renamed `authority`'),
      }),
    )
    expect(() => compileAdapter({ keys, exempt: [42 as unknown as string] })).toThrow(ConfigurationError)
  })

  it('turns signResponses on with the adapter verifier', () => {
    const a = compileAdapter({ keys, signResponses: { label: 'res1' } })
    expect(a.signing).toMatchObject({ label: 'res1', verifier: a.verifier })
  })
})

import { VerificationError } from '@sigil/core'
import { describe, expect, it } from 'vitest'
import type { Verified } from './incoming.js'
import { checkScopes, exemptMatcher, hasScope } from './route-requirements.js'

const verified = (scopes: string[]): Verified => ({ keyId: 'k', principal: 'p', scopes, created: 0, label: 'sig1' })
const codeOf = (f: () => unknown) => {
  try {
    f()
    return 'ok'
  } catch (e) {
    return e instanceof VerificationError ? e.code : 'other'
  }
}

describe('exemptMatcher', () => {
  it('matches exact paths, * prefixes, RegExps and predicates on the raw path', () => {
    const m = exemptMatcher(['/healthz', '/public/*', /^\/docs(\/|$)/, ({ method, path }) => method === 'OPTIONS' && path === '/v1/orders'])
    expect(m('GET', '/healthz')).toBe(true)
    expect(m('GET', '/healthz/deep')).toBe(false)
    expect(m('GET', '/public/logo.png')).toBe(true)
    expect(m('GET', '/docs')).toBe(true)
    expect(m('OPTIONS', '/v1/orders')).toBe(true)
    expect(m('POST', '/v1/orders')).toBe(false)
  })

  it('does not decode: an encoded path is not the exempt one', () => {
    expect(exemptMatcher('/healthz')('GET', '/health%7A')).toBe(false)
  })

  it('exempts nothing without rules', () => {
    expect(exemptMatcher(undefined)('GET', '/healthz')).toBe(false)
  })
})

describe('checkScopes', () => {
  it('accepts exact, * and prefix:* grants', () => {
    expect(hasScope(['orders:write'], 'orders:write')).toBe(true)
    expect(hasScope(['*'], 'anything')).toBe(true)
    expect(hasScope(['orders:*'], 'orders:write')).toBe(true)
    expect(hasScope(['orders:*'], 'ordersx:write')).toBe(false)
  })

  it('is SCOPE_DENIED when a scope is missing and SIGNATURE_MISSING when nothing was verified', () => {
    expect(codeOf(() => checkScopes(verified(['orders:read']), ['orders:read']))).toBe('ok')
    expect(codeOf(() => checkScopes(verified(['orders:read']), ['orders:read', 'orders:write']))).toBe('SCOPE_DENIED')
    expect(codeOf(() => checkScopes(undefined, []))).toBe('SIGNATURE_MISSING')
  })
})

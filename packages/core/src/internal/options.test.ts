import { describe, expect, it } from 'vitest'
import { boolean, number, object, optional, strictObject, union } from 'zod/mini'
import { ConfigurationError } from '../errors.js'
import { checkOptions, closestName, editDistance, optionNames, schemaKeys, zodOptionsError } from './options.js'

describe('the options toolkit', () => {
  it('measures edits case-insensitively, a transposition as one', () => {
    expect(editDistance('requireScopes', 'requiredScopes')).toBe(1)
    expect(editDistance('nonecStore', 'nonceStore')).toBe(1)
    expect(editDistance('MaxBodyBytes', 'maxBodyBytes')).toBe(0)
    expect(editDistance('', 'abc')).toBe(3)
  })

  it('suggests a near name or one that contains the key, else nothing', () => {
    const known = ['keys', 'nonceStore', 'maxBodyBytes', 'requiredScopes']
    expect(closestName('nonceStor', known)).toBe('nonceStore')
    expect(closestName('maxBody', known)).toBe('maxBodyBytes')
    expect(closestName('scopes', known)).toBe('requiredScopes')
    expect(closestName('zzzzzz', known)).toBeUndefined()
    expect(closestName('x', [])).toBeUndefined()
  })

  it('refuses an unknown key, even with an undefined value; a renamed key names its successor', () => {
    const known = optionNames<{ prefix?: string; ttlMs?: number }>({ prefix: true, ttlMs: true })
    expect(() => checkOptions('store options', { prefix: 'a', ttlMs: 1 }, known)).not.toThrow()
    expect(() => checkOptions('store options', undefined, known)).not.toThrow()
    expect(() => checkOptions('store options', { prefx: undefined }, known)).toThrow(
      new ConfigurationError('invalid store options: prefx: unknown option, did you mean `prefix`?'),
    )
    expect(() => checkOptions('store options', { ttl: 1 }, known, { ttl: ['ttlMs', 'milliseconds'] })).toThrow(
      'invalid store options: ttl: `ttl` was renamed `ttlMs` (milliseconds)',
    )
    expect(() => checkOptions('store options', { a: 1 }, [])).toThrow('invalid store options: a: unknown option (takes no options)')
  })

  it('never echoes more of a key than 64 printable characters (keys may come from a request body)', () => {
    let message = ''
    try {
      checkOptions('body', { [`\u0000${'x'.repeat(200)}`]: 1 }, ['a'])
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toMatch(/^invalid body: \?x{60}\.\.\.: unknown option/)
  })

  it('reads the known names from a zod schema, through optional and union, at any depth', () => {
    const schema = strictObject({
      a: optional(number()),
      presigned: optional(union([boolean(), strictObject({ singleUse: optional(boolean()), maxLifetimeMs: optional(number()) })])),
      nested: object({ inner: strictObject({ deep: optional(number()) }) }),
    })
    expect(schemaKeys(schema)).toEqual(['a', 'presigned', 'nested'])
    expect(schemaKeys(schema, ['presigned'])).toEqual(['singleUse', 'maxLifetimeMs'])
    expect(schemaKeys(schema, ['nested', 'inner'])).toEqual(['deep'])
    expect(schemaKeys(schema, ['missing'])).toEqual([])
    const fail = (v: unknown) => {
      const r = schema.safeParse(v)
      return r.success ? undefined : zodOptionsError('test options', r.error, schema, { maxLifetime: ['maxLifetimeMs', 'milliseconds'] })
    }
    expect(fail({ nested: { inner: {} }, presigned: { singleuse: true } })?.message).toBe(
      'invalid test options: presigned.singleuse: unknown option, did you mean `singleUse`?',
    )
    // A renamed key wins over another issue, so the upgrade is told first.
    expect(fail({ a: 'x', nested: { inner: {} }, presigned: { maxLifetime: 1 } })?.message).toBe(
      'invalid test options: presigned.maxLifetime: `maxLifetime` was renamed `maxLifetimeMs` (milliseconds)',
    )
    const typeError = fail({ a: 'x', nested: { inner: {} } })
    expect(typeError).toBeInstanceOf(ConfigurationError)
    expect(typeError?.message).toMatch(/^invalid test options: a: /)
  })
})

import { isKeyId, parseToken, SigilError } from '@sigil/core'
import { describe, expect, it } from 'vitest'
import { createKeyId, generateKey } from './generate-key.js'
import { generateMasterKey, parseMasterKey } from './master-key.js'
import { openSecret, sealSecret } from './secret-box.js'

describe('generateKey', () => {
  it('issues a 256-bit secret, a valid key id and a checksummed token', () => {
    const now = new Date('2030-01-01T00:00:00Z')
    const g = generateKey({ principal: 'acme', scopes: ['a'], expiresAt: new Date('2031-01-01'), now: () => now.getTime() })
    expect(isKeyId(g.keyId)).toBe(true)
    expect(g.secret.length).toBe(32)
    expect(g.token.startsWith('sigil_sk_')).toBe(true)
    expect(parseToken(g.token).keyId).toBe(g.keyId)
    expect(g.record).toMatchObject({ principal: 'acme', scopes: ['a'], status: 'active', createdAt: now })
    expect(generateKey({ principal: 'acme' }).secret).not.toEqual(g.secret)
  })

  it('makes a typo fail locally with TOKEN_INVALID', () => {
    const { token } = generateKey({ principal: 'acme' })
    const i = token.length - 10
    const typo = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1)
    expect(() => parseToken(typo)).toThrow(expect.objectContaining({ code: 'TOKEN_INVALID' }))
  })

  it('creates uniform-alphabet ids of the requested length', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => createKeyId()))
    expect(ids.size).toBe(1000)
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9]{22}$/)
  })

  it('rejects invalid input with a ConfigurationError', () => {
    expect(() => generateKey({ principal: '' })).toThrow(SigilError)
  })
})

describe('master keys and the secret box', () => {
  it('parses the SIGIL_MASTER_KEY forms; the first version is current', () => {
    const v1 = generateMasterKey('v1')
    const v2 = generateMasterKey('v2')
    const ring = parseMasterKey(`${v2}, ${v1}`)
    expect(ring.current).toBe('v2')
    expect([...ring.keys.keys()]).toEqual(['v2', 'v1'])
    expect(parseMasterKey(v1.slice(3)).current).toBe('v1')
    expect(parseMasterKey({ current: 'v1', keys: { v1: v1.slice(3) } }).current).toBe('v1')
  })

  it('rejects bad configurations without echoing key material', () => {
    const secretish = 'c2VjcmV0LXNob3J0'
    for (const bad of [undefined, '', `v1:${secretish}`, 'v1:a,v1:b', 'bad version:AAAA', { current: 'v9', keys: {} }]) {
      let msg = ''
      try {
        parseMasterKey(bad as string)
      } catch (e) {
        expect(e).toMatchObject({ code: 'CONFIGURATION_INVALID' })
        msg = (e as Error).message
      }
      expect(msg).not.toBe('')
      expect(msg).not.toContain(secretish)
    }
  })

  it('round-trips a secret and binds it to its key id and version', () => {
    const ring = parseMasterKey(generateMasterKey('v1'))
    const secret = crypto.getRandomValues(new Uint8Array(32))
    const sealed = sealSecret(ring, 'KeyIdAAAA1', secret)
    expect(Buffer.from(openSecret(ring, 'KeyIdAAAA1', sealed)).equals(Buffer.from(secret))).toBe(true)
    expect(Buffer.from(sealed.data).includes(Buffer.from(secret))).toBe(false)
    expect(() => openSecret(ring, 'KeyIdBBBB2', sealed)).toThrow(/failed to decrypt/)
    const tampered = { ...sealed, data: sealed.data.slice() }
    tampered.data[20] = (tampered.data[20] as number) ^ 1
    expect(() => openSecret(ring, 'KeyIdAAAA1', tampered)).toThrow(/failed to decrypt/)
    expect(() => openSecret(ring, 'KeyIdAAAA1', { ...sealed, version: 'v0' })).toThrow(/not configured/)
  })
})

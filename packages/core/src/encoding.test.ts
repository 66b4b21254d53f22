import { describe, expect, it } from 'vitest'
import { decodeSecret, randomBytes, secretBytes, toBase64, toBase64Url } from './internal/index.js'

// RFC 9421 Appendix B.1.5, the hmac-sha256 shared secret (64 bytes, standard base64 with padding).
const RFC9421_B15 = 'uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ=='

describe('the secret rule (issue 12 item 5)', () => {
  it('accepts every generated secret in both base64 alphabets (no false refusals over 2,000 draws)', () => {
    for (let i = 0; i < 2000; i++) {
      const bytes = randomBytes(32 + (i % 33))
      for (const text of [toBase64Url(bytes), toBase64(bytes), toBase64(bytes).replace(/=+$/, '')]) {
        expect(decodeSecret(text)).toEqual(bytes)
        expect(secretBytes(text, 'k')).toEqual(bytes)
      }
    }
  })

  it('accepts the RFC 9421 B.1.5 secret', () => {
    expect(secretBytes(RFC9421_B15, 'test-shared-secret')).toHaveLength(64)
  })

  it('refuses text it would otherwise decode into a different key: hex, single-case words, non-canonical, mixed alphabets', () => {
    const hex = Buffer.from(randomBytes(32)).toString('hex')
    const b64 = toBase64Url(randomBytes(32))
    for (const text of [
      hex,
      hex.toUpperCase(),
      'correcthorsebatterystaplecorrecthorsebattery',
      'CORRECT_HORSE_BATTERY_STAPLE_CORRECT_HORSE_1',
      `${b64.slice(0, 10)}+${b64.slice(11, 20)}-${b64.slice(21)}`,
    ]) {
      expect(decodeSecret(text)).toBeUndefined()
      expect(() => secretBytes(text, 'kAcme')).toThrow(/secret of kAcme/)
    }
    // 43 base64url chars carry 258 bits: the last char's 2 low bits must be zero.
    const canonical = decodeSecret(b64) as Uint8Array
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const bumped = b64.slice(0, -1) + alphabet[alphabet.indexOf(b64.at(-1) as string) ^ 1]
    expect(decodeSecret(bumped)).toBeUndefined()
    expect(canonical).toHaveLength(32)
  })

  it('explicit forms say what the text is; errors never echo it', () => {
    const bytes = randomBytes(32)
    const hex = Buffer.from(bytes).toString('hex')
    expect(secretBytes({ hex }, 'k')).toEqual(bytes)
    expect(secretBytes({ hex: hex.toUpperCase() }, 'k')).toEqual(bytes)
    expect(secretBytes({ base64: toBase64(bytes) }, 'k')).toEqual(bytes)
    expect(secretBytes({ base64url: toBase64Url(bytes) }, 'k')).toEqual(bytes)
    expect(secretBytes({ utf8: 'a'.repeat(32) }, 'k')).toEqual(new TextEncoder().encode('a'.repeat(32)))
    for (const bad of [{ hex: `${hex}z` }, { base64url: toBase64(bytes) }, { hex: hex.slice(0, 62) }, { utf8: 'q9Zx' }]) {
      let message = ''
      try {
        secretBytes(bad, 'kAcme')
      } catch (e) {
        message = (e as Error).message
        expect((e as { code?: string }).code).toBe('CONFIGURATION_INVALID')
      }
      expect(message).toMatch(/^secret of kAcme /)
      expect(message).not.toContain(Object.values(bad)[0] as string)
    }
    expect(() => secretBytes(undefined, 'kAcme')).toThrow(/secret of kAcme is missing/)
  })
})

// Interop with `http_ece` (the RFC 8188 implementation Web Push uses): each side decrypts what the
// other encrypts, given the key Sigil derives from the API key's secret (SPEC §8).
import { createRequire } from 'node:module'
import { createEceDecrypter, decryptBytes, deriveEncryptionKey, encryptBytes } from '@sigil/core/internal'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SIGIL_ECE_V1, secretOf } from '../vectors/load.js'

interface HttpEce {
  encrypt(buffer: Buffer, params: { version: 'aes128gcm'; key: Buffer; keyid?: string; rs?: number; salt?: Buffer }): Buffer
  decrypt(buffer: Buffer, params: { version: 'aes128gcm'; key?: Buffer; keyid?: string; keymap?: Record<string, Buffer> }): Buffer
}
const ece = createRequire(import.meta.url)('http_ece') as HttpEce

const vector = SIGIL_ECE_V1[0] as (typeof SIGIL_ECE_V1)[number]
const secret = secretOf(vector.secretBase64)

describe('http_ece interop', () => {
  it('http_ece decrypts what Sigil encrypts, any body and record size', async () => {
    const key = await deriveEncryptionKey(secret, 'k_interop')
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 18, max: 1200 }), async (body, rs) => {
        const sealed = await encryptBytes(body, { key, keyId: 'k_interop', recordSize: rs })
        const plain = ece.decrypt(Buffer.from(sealed), {
          version: 'aes128gcm',
          keymap: { k_interop: Buffer.from(key) },
          keyid: 'k_interop',
        })
        expect(plain).toEqual(Buffer.from(body))
      }),
      { numRuns: 60 },
    )
  })

  it('Sigil decrypts what http_ece encrypts, any body and record size', async () => {
    const key = await deriveEncryptionKey(secret, 'k_interop')
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 18, max: 1200 }), async (body, rs) => {
        const sealed = ece.encrypt(Buffer.from(body), { version: 'aes128gcm', key: Buffer.from(key), keyid: 'k_interop', rs })
        const d = createEceDecrypter({ key: (id) => (id === 'k_interop' ? key : undefined) })
        const plain = Buffer.concat([...(await d.push(sealed)), ...(await d.end())])
        expect(plain).toEqual(Buffer.from(body))
        expect(d.keyId).toBe('k_interop')
      }),
      { numRuns: 60 },
    )
  })

  it('a body http_ece sealed with the 16 KiB records Sigil uses, 1 MiB long', async () => {
    const key = await deriveEncryptionKey(secret, 'k_interop')
    const body = new Uint8Array(1 << 20).map((_, i) => (i * 31) & 0xff)
    const sealed = ece.encrypt(Buffer.from(body), { version: 'aes128gcm', key: Buffer.from(key), keyid: 'k_interop', rs: 16384 })
    // Buffer.equals: a deep equality over a million elements would take the test's whole budget.
    expect(Buffer.from(await decryptBytes(sealed, { key })).equals(body)).toBe(true)
    const ours = await encryptBytes(body, { key, keyId: 'k_interop' })
    expect(ece.decrypt(Buffer.from(ours), { version: 'aes128gcm', key: Buffer.from(key) }).equals(body)).toBe(true)
  })

  it('http_ece reproduces the Sigil vectors from their derived key', () => {
    for (const v of SIGIL_ECE_V1) {
      const key = Buffer.from(v.key, 'base64url')
      const sealed = ece.encrypt(Buffer.from(v.plaintext, 'base64url'), {
        version: 'aes128gcm',
        key,
        keyid: v.keyId,
        rs: v.rs,
        salt: Buffer.from(v.salt, 'base64url'),
      })
      expect(sealed.toString('base64url'), v.name).toBe(v.encrypted)
    }
  })
})

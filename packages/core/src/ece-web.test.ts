import { describe, expect, it, vi } from 'vitest'
import { fromB64u, RFC8188, SIGIL_ECE_V1, secretOf } from '../../../test/vectors/load.js'

// Browsers and Workers have no node:crypto: the codec runs on WebCrypto alone there.
vi.mock('./platform.js', async (importOriginal) => ({ ...(await importOriginal<object>()), nodeCrypto: undefined }))

const { deriveEncryptionKey } = await import('./ece-key.js')
const { decryptBytes, encryptBytes } = await import('./ece-stream.js')

describe('aes128gcm on WebCrypto only', () => {
  it('meets the RFC 8188 and Sigil vectors', async () => {
    for (const v of RFC8188) {
      const plain = await decryptBytes(fromB64u(v.encrypted), { key: fromB64u(v.key) })
      expect(Buffer.from(plain).toString('base64url'), v.name).toBe(v.plaintext)
    }
    for (const v of SIGIL_ECE_V1) {
      const key = await deriveEncryptionKey(secretOf(v.secretBase64), v.keyId)
      expect(Buffer.from(key).toString('base64url'), v.name).toBe(v.key)
      const sealed = await encryptBytes(fromB64u(v.plaintext), { key, keyId: v.keyId, salt: fromB64u(v.salt), recordSize: v.rs })
      expect(Buffer.from(sealed).toString('base64url'), v.name).toBe(v.encrypted)
    }
  })

  it('refuses a flipped byte', async () => {
    const key = new Uint8Array(16).fill(3)
    const sealed = await encryptBytes(new Uint8Array(100), { key, keyId: 'k1', recordSize: 40 })
    sealed[60] = (sealed[60] as number) ^ 1
    await expect(decryptBytes(sealed, { key })).rejects.toMatchObject({ code: 'BODY_DECRYPTION_FAILED' })
  })
})

import { Readable } from 'node:stream'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fromB64u, RFC8188, SIGIL_ECE_V1, secretOf } from '../../../test/vectors/load.js'
import { createEceDecrypter, createEceEncrypter, type EceDecryptOptions } from './ece.js'
import { deriveEncryptionKey, hkdfSha256 } from './ece-key.js'
import { decryptBytes, decryptChunks, decryptStream, encryptBytes, encryptChunks, encryptStream } from './ece-stream.js'
import { utf8 } from './encoding.js'

const KEY = new Uint8Array(16).fill(7)
const OTHER = new Uint8Array(16).fill(8)

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (e) {
    return (e as { code?: string }).code ?? String(e)
  }
  return 'accepted'
}

/** Feed `bytes` to a decrypter in pieces cut at `cuts`; everything it released, and how it ended. */
async function feed(bytes: Uint8Array, options: EceDecryptOptions, cuts: number[] = []) {
  const d = createEceDecrypter(options)
  const out: Uint8Array[] = []
  let at = 0
  try {
    for (const c of [...cuts.filter((x) => x > 0 && x < bytes.length).sort((a, b) => a - b), bytes.length]) {
      out.push(...(await d.push(bytes.subarray(at, c))))
      at = c
    }
    out.push(...(await d.end()))
    return { out, result: 'ok' }
  } catch (e) {
    return { out, result: (e as { code?: string }).code ?? String(e) }
  }
}

const text = (parts: Uint8Array[]) => Buffer.concat(parts).toString()

describe('RFC 8188 examples', () => {
  for (const v of RFC8188) {
    it(`decrypts ${v.name}`, async () => {
      const plain = await decryptBytes(fromB64u(v.encrypted), { key: fromB64u(v.key) })
      expect(Buffer.from(plain).toString('base64url')).toBe(v.plaintext)
    })
  }
  const [one] = RFC8188
  it('derives the §3.1 CEK and nonce, and encrypts §3.1 to the same bytes', async () => {
    if (!one?.salt || !one.cek || !one.nonce) throw new Error('vector missing')
    const salt = fromB64u(one.salt)
    const key = fromB64u(one.key)
    expect(Buffer.from(await hkdfSha256(key, salt, utf8('Content-Encoding: aes128gcm\0'), 16)).toString('base64url')).toBe(one.cek)
    expect(Buffer.from(await hkdfSha256(key, salt, utf8('Content-Encoding: nonce\0'), 12)).toString('base64url')).toBe(one.nonce)
    const sealed = await encryptBytes(fromB64u(one.plaintext), { key, keyId: one.keyId, salt, recordSize: one.rs })
    expect(Buffer.from(sealed).toString('base64url')).toBe(one.encrypted)
  })
})

describe('Sigil derivation (SPEC §8)', () => {
  for (const v of SIGIL_ECE_V1) {
    it(`${v.name}: derives the key, encrypts to the vector, decrypts it`, async () => {
      const key = await deriveEncryptionKey(secretOf(v.secretBase64), v.keyId)
      expect(Buffer.from(key).toString('base64url')).toBe(v.key)
      const sealed = await encryptBytes(fromB64u(v.plaintext), { key, keyId: v.keyId, salt: fromB64u(v.salt), recordSize: v.rs })
      expect(Buffer.from(sealed).toString('base64url')).toBe(v.encrypted)
      const plain = await decryptBytes(fromB64u(v.encrypted), { key: (id) => (id === v.keyId ? key : undefined) })
      expect(Buffer.from(plain).toString('base64url')).toBe(v.plaintext)
    })
  }
  it('never derives the signing secret itself, and another key id gives another key', async () => {
    const secret = secretOf(SIGIL_ECE_V1[0]?.secretBase64 as string)
    const a = await deriveEncryptionKey(secret, 'k1')
    expect(Buffer.from(a)).not.toEqual(Buffer.from(secret.subarray(0, 16)))
    expect(Buffer.from(await deriveEncryptionKey(secret, 'k2'))).not.toEqual(Buffer.from(a))
  })
})

describe('round trips', () => {
  it('any body, any record size, cut anywhere', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 400 }),
        fc.integer({ min: 18, max: 80 }),
        fc.array(fc.nat(500), { maxLength: 6 }),
        async (body, rs, cuts) => {
          const sealed = await encryptBytes(body, { key: KEY, keyId: 'k1', recordSize: rs })
          const { out, result } = await feed(sealed, { key: KEY }, cuts)
          expect(result).toBe('ok')
          expect(Buffer.concat(out)).toEqual(Buffer.from(body))
          // Plaintext pushed in pieces encrypts to a body that decrypts the same.
          const e = createEceEncrypter({ key: KEY, keyId: 'k1', recordSize: rs })
          const parts: Uint8Array[] = []
          let at = 0
          for (const c of [...cuts.filter((x) => x < body.length).sort((a, b) => a - b), body.length]) {
            parts.push(...(await e.push(body.subarray(at, Math.max(at, c)))))
            at = Math.max(at, c)
          }
          parts.push(...(await e.end()))
          expect(Buffer.from(await decryptBytes(Buffer.concat(parts), { key: KEY }))).toEqual(Buffer.from(body))
        },
      ),
      { numRuns: 150 },
    )
  })

  it('uses a fresh salt per message', async () => {
    const a = await encryptBytes(utf8('same'), { key: KEY, keyId: 'k1' })
    const b = await encryptBytes(utf8('same'), { key: KEY, keyId: 'k1' })
    expect(Buffer.from(a.subarray(0, 16))).not.toEqual(Buffer.from(b.subarray(0, 16)))
    expect(Buffer.from(a)).not.toEqual(Buffer.from(b))
  })

  it('streams 8 MiB through Web streams one record at a time', async () => {
    const chunk = new Uint8Array(65536).fill(0x61)
    let sent = 0
    const source = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent === 128) return c.close()
        sent++
        c.enqueue(chunk)
      },
    })
    let total = 0
    let biggest = 0
    const sink = new WritableStream<Uint8Array>({
      write(c) {
        total += c.length
        biggest = Math.max(biggest, c.length)
      },
    })
    await source
      .pipeThrough(encryptStream({ key: KEY, keyId: 'k1' }))
      .pipeThrough(decryptStream({ key: KEY }))
      .pipeTo(sink)
    expect(total).toBe(128 * 65536)
    // Plaintext leaves in records (16 KiB less the tag and delimiter), never as a whole body.
    expect(biggest).toBeLessThanOrEqual(16384)
  })

  it('streams through Node streams (async iterables)', async () => {
    const body = new Uint8Array(100_000).map((_, i) => i & 0xff)
    const sealed = Readable.from(encryptChunks(Readable.from([body.subarray(0, 70_000), body.subarray(70_000)]), { key: KEY, keyId: 'k1' }))
    const parts: Uint8Array[] = []
    for await (const p of decryptChunks(sealed, { key: KEY })) parts.push(p)
    expect(Buffer.concat(parts)).toEqual(Buffer.from(body))
  })
})

describe('tampering', () => {
  const body = utf8('0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ') // 46 bytes: 4 records of rs 32
  const rs = 32
  const sealedP = encryptBytes(body, { key: KEY, keyId: 'k1', recordSize: rs })
  const HEADER = 21 + 2

  it('refuses a flipped bit in any byte of the header or of any record', async () => {
    const sealed = await sealedP
    for (let i = 0; i < sealed.length; i++) {
      const bad = sealed.slice()
      bad[i] = (bad[i] as number) ^ 0x01
      const { result } = await feed(bad, { key: (id) => (id === 'k1' ? KEY : undefined) })
      expect(result, `byte ${i}`).toBe('BODY_DECRYPTION_FAILED')
    }
  })

  it('releases no plaintext of a record that fails, nor of anything after it', async () => {
    const sealed = (await sealedP).slice()
    sealed[HEADER + rs + 3] = (sealed[HEADER + rs + 3] as number) ^ 0x80 // second record
    // Pushed in pieces so that the first record's plaintext leaves before the second arrives.
    const { out, result } = await feed(sealed, { key: KEY }, [HEADER + rs + 1, HEADER + 2 * rs + 1])
    expect(result).toBe('BODY_DECRYPTION_FAILED')
    expect(text(out)).toBe('0123456789abcde') // the first record only, which checked out
  })

  it('refuses a truncated body: the last record dropped, or cut short', async () => {
    const sealed = await sealedP
    const records = sealed.length - HEADER
    const lastStart = HEADER + Math.floor((records - 1) / rs) * rs
    expect((await feed(sealed.subarray(0, lastStart), { key: KEY })).result).toBe('BODY_DECRYPTION_FAILED')
    expect((await feed(sealed.subarray(0, sealed.length - 1), { key: KEY })).result).toBe('BODY_DECRYPTION_FAILED')
    expect((await feed(sealed.subarray(0, HEADER), { key: KEY })).result).toBe('BODY_DECRYPTION_FAILED')
    expect((await feed(sealed.subarray(0, 10), { key: KEY })).result).toBe('BODY_DECRYPTION_FAILED')
  })

  it('refuses swapped records and bytes after the last record', async () => {
    const sealed = await sealedP
    const swapped = sealed.slice()
    swapped.set(sealed.subarray(HEADER + rs, HEADER + 2 * rs), HEADER)
    swapped.set(sealed.subarray(HEADER, HEADER + rs), HEADER + rs)
    expect((await feed(swapped, { key: KEY })).result).toBe('BODY_DECRYPTION_FAILED')
    const longer = Buffer.concat([sealed, sealed.subarray(HEADER, HEADER + 17)])
    expect((await feed(longer, { key: KEY })).result).toBe('BODY_DECRYPTION_FAILED')
  })

  it('refuses a wrong key, an unexpected keyid, and a record size out of bounds', async () => {
    const sealed = await sealedP
    expect((await feed(sealed, { key: OTHER })).result).toBe('BODY_DECRYPTION_FAILED')
    expect((await feed(sealed, { key: (id) => (id === 'k2' ? KEY : undefined) })).result).toBe('BODY_DECRYPTION_FAILED')
    for (const bad of [17, 65537, 0xffffffff]) {
      const h = sealed.slice()
      new DataView(h.buffer).setUint32(16, bad)
      expect((await feed(h, { key: KEY })).result, `rs ${bad}`).toBe('BODY_DECRYPTION_FAILED')
    }
  })

  it('refuses a sender key that is not 16 bytes, and a record size out of bounds', async () => {
    expect(await refusal(encryptBytes(body, { key: new Uint8Array(32), keyId: 'k1' }))).toBe('CONFIGURATION_INVALID')
    expect(await refusal(encryptBytes(body, { key: KEY, keyId: 'k1', recordSize: 17 }))).toBe('CONFIGURATION_INVALID')
  })
})

import { randomBytes } from 'node:crypto'
import { verify } from '@sigil/server'
import { describe, expect, it } from 'vitest'
import { signRequest } from './sign-request.js'

// One secret rule on both sides (SPEC §4): what the server accepts for a key, the client accepts
// for signing, with the same configuration-time errors.
describe('client secrets follow the server rule', () => {
  const bytes = randomBytes(32)
  const keyId = 'kSecretRule0001'
  const server = { keys: { [keyId]: new Uint8Array(bytes) } }
  const sign = (secret: unknown) => signRequest(new Request('https://api.example.com/v1/x'), { keyId, secret: secret as Uint8Array })

  it.each([
    ['bytes', new Uint8Array(bytes)],
    ['base64url', bytes.toString('base64url')],
    ['base64', bytes.toString('base64')],
    ['{ hex }', { hex: bytes.toString('hex') }],
    ['{ utf8 } (a 32-byte passphrase)', { utf8: bytes.toString('latin1') }],
  ])('accepts %s', async (name, secret) => {
    const signed = await sign(secret)
    if (name.startsWith('{ utf8 }')) return // different bytes than the server's key; signing worked
    await expect(verify(signed, server)).resolves.toMatchObject({ keyId })
  })

  it.each([
    ['empty', ''],
    ['undefined', undefined],
    ['too short', 'abcd'],
    ['bare hex', bytes.toString('hex')],
  ])('refuses %s at configuration time, naming the key id and never the value', async (_n, secret) => {
    const err = await sign(secret).then(
      () => undefined,
      (e: Error) => e,
    )
    expect(err?.name).toBe('ConfigurationError')
    expect(err?.message).toContain(keyId)
    if (typeof secret === 'string' && secret) expect(err?.message).not.toContain(secret)
  })
})

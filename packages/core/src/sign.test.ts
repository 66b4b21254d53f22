import { describe, expect, it } from 'vitest'
import { component } from './components.js'
import { webHmacSha256 } from './hmac.js'
import { requestFromUrl } from './message.js'
import { createNonce, signMessage, signMessageSync } from './sign.js'
import { parseSignatures } from './signature-input.js'

const secret = new Uint8Array(32).fill(7)
const view = () => requestFromUrl('POST', 'https://api.example.com/v1/orders?b=2&a=1', new Headers({ 'content-type': 'application/json' }))
const components = ['@method', '@authority', '@path', '@query', 'content-type'].map((n) => component(n))

describe('signMessage', () => {
  it('builds the same Signature-Input as the general serializer, and the same MAC sync, async and through WebCrypto', async () => {
    const o = { keyId: 'k1', secret, components, created: 1735689600, expiresInMs: 300_000, nonce: 'n-1' }
    const a = await signMessage(view(), o)
    const b = signMessageSync(view(), o)
    const c = await signMessage(view(), { ...o, hmac: webHmacSha256 })
    expect(a).toEqual(b)
    expect(c.signature).toBe(a.signature)
    expect(a.signatureInput).toBe(
      'sig1=("@method" "@authority" "@path" "@query" "content-type");created=1735689600;expires=1735689900;nonce="n-1";keyid="k1";alg="hmac-sha256";tag="sigil"',
    )
    // What a verifier reads back is byte for byte what was signed.
    const [entry] = parseSignatures(a.signatureInput, a.signature)
    expect(a.base.endsWith(`"@signature-params": ${entry?.paramsValue}`)).toBe(true)
    // Escapes and extra parameters go through the serializer, in order, overriding in place.
    const d = await signMessage(view(), { ...o, keyId: 'k"1', tag: false, extraParams: { nonce: 'x', z: 2 } })
    expect(d.signatureInput).toBe(
      'sig1=("@method" "@authority" "@path" "@query" "content-type");created=1735689600;expires=1735689900;nonce="x";keyid="k\\"1";alg="hmac-sha256";z=2',
    )
  })

  it('serializes each key id and tag it is given, whatever came before (escapes, refusals, repeats)', () => {
    const input = (keyId: string, tag: string) =>
      signMessageSync(view(), { keyId, tag, secret, components, created: 1, nonce: 'n' }).signatureInput.split(';keyid=')[1]
    expect(input('k1', 'sigil')).toBe('"k1";alg="hmac-sha256";tag="sigil"')
    expect(() => input('k\u00011', 'sigil')).toThrow()
    expect(() => input('k1', 't\u00e9')).toThrow()
    expect(input('k"1', 'a\\b')).toBe('"k\\"1";alg="hmac-sha256";tag="a\\\\b"')
    expect(input('k1', 'sigil')).toBe('"k1";alg="hmac-sha256";tag="sigil"')
    expect(input('k1', 'sigil')).toBe('"k1";alg="hmac-sha256";tag="sigil"')
  })

  it('rejects (does not throw synchronously) when the message cannot be signed', async () => {
    const p = signMessage(view(), { keyId: 'k1', secret, components: [component('x-missing')], created: 1 })
    await expect(p).rejects.toThrow(/not in the message/)
  })
})

describe('createNonce', () => {
  it('hands out distinct 16-byte base64url nonces across pool refills', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 1000; i++) seen.add(createNonce())
    expect(seen.size).toBe(1000)
    for (const n of seen) expect(n).toMatch(/^[A-Za-z0-9_-]{22}$/)
  })
})

// Interop with another RFC 9421 implementation: dhensby/node-http-message-signatures
// (npm `http-message-signatures`), hmac-sha256, both directions.
import { signRequest } from '@sigil/client'
import { randomBytes } from '@sigil/core/internal'
import { verify } from '@sigil/server'
import { createSigner, createVerifier, httpbis } from 'http-message-signatures'
import { describe, expect, it } from 'vitest'

const secret = randomBytes(32)
const keyId = 'kInteropKey01'
const url = 'https://api.example.com/v1/orders?b=2&a=1'
const body = JSON.stringify({ sku: 'A-1', qty: 2 })

function record(h: Headers): Record<string, string> {
  return Object.fromEntries(h.entries())
}

describe('interop with http-message-signatures (hmac-sha256)', () => {
  it('a Sigil signature verifies with http-message-signatures', async () => {
    const signed = await signRequest(new Request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }), {
      keyId,
      secret,
    })
    const ok = await httpbis.verifyMessage(
      {
        keyLookup: async (params) =>
          params.keyid === keyId ? { id: keyId, algs: ['hmac-sha256'], verify: createVerifier(Buffer.from(secret), 'hmac-sha256') } : null,
        requiredFields: ['@method', '@authority', '@path', '@query', 'content-digest'],
      },
      { method: 'POST', url, headers: record(signed.headers) },
    )
    expect(ok).toBe(true)
  })

  it('a tampered Sigil request fails with http-message-signatures too', async () => {
    const signed = await signRequest(new Request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }), {
      keyId,
      secret,
    })
    const ok = await httpbis
      .verifyMessage(
        { keyLookup: async () => ({ id: keyId, algs: ['hmac-sha256'], verify: createVerifier(Buffer.from(secret), 'hmac-sha256') }) },
        { method: 'POST', url: url.replace('orders', 'refunds'), headers: record(signed.headers) },
      )
      .catch(() => false)
    expect(ok).toBe(false)
  })

  async function foreignSigned(params: Record<string, string | Date>, fields: string[]) {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'content-digest': `sha-256=:${Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body))).toString('base64')}:`,
    }
    const signed = await httpbis.signMessage(
      { key: createSigner(Buffer.from(secret), 'hmac-sha256', keyId), fields, params: Object.keys(params), paramValues: params },
      { method: 'POST', url, headers },
    )
    return new Request(url, { method: 'POST', headers: signed.headers as Record<string, string>, body })
  }

  it('an http-message-signatures signature verifies with Sigil (rfc9421 profile)', async () => {
    const req = await foreignSigned({ keyid: keyId, alg: 'hmac-sha256', created: new Date() }, [
      '@method',
      '@authority',
      '@path',
      'content-digest',
    ])
    const v = await verify(req, { keys: { [keyId]: secret }, profile: 'rfc9421' })
    expect(v.keyId).toBe(keyId)
  })

  it('with nonce and tag it passes the full sigil profile', async () => {
    const req = await foreignSigned(
      { keyid: keyId, alg: 'hmac-sha256', created: new Date(), nonce: 'AAECAwQFBgcICQoLDA0ODw', tag: 'sigil' },
      ['@method', '@authority', '@path', '@query', 'content-type', 'content-digest'],
    )
    const v = await verify(req, { keys: { [keyId]: secret } })
    expect(v).toMatchObject({ keyId, nonce: 'AAECAwQFBgcICQoLDA0ODw' })
  })

  it('the foreign signature still fails Sigil when the body changes', async () => {
    const req = await foreignSigned({ keyid: keyId, created: new Date() }, ['@method', '@authority', '@path', 'content-digest'])
    const tampered = new Request(req.url, { method: 'POST', headers: req.headers, body: body.replace('2', '3') })
    await expect(verify(tampered, { keys: { [keyId]: secret }, profile: 'rfc9421' })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' })
  })

  it('a peer keyed with a UTF-8 passphrase interoperates through { utf8 }, and the bare string is refused (issue 12 item 5)', async () => {
    const passphrase = 'peer-side passphrase: 32+ bytes of UTF-8 text'
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'content-digest': `sha-256=:${Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body))).toString('base64')}:`,
    }
    const signed = await httpbis.signMessage(
      {
        key: createSigner(Buffer.from(passphrase, 'utf8'), 'hmac-sha256', keyId),
        fields: ['@method', '@authority', '@path', 'content-digest'],
        params: ['keyid', 'alg', 'created'],
        paramValues: { created: new Date() },
      },
      { method: 'POST', url, headers },
    )
    const req = () => new Request(url, { method: 'POST', headers: signed.headers as Record<string, string>, body })
    const v = await verify(req(), { keys: { [keyId]: { utf8: passphrase } }, profile: 'rfc9421' })
    expect(v.keyId).toBe(keyId)
    // The same text as a plain string is not silently base64-decoded into another key.
    expect(() => verify(req(), { keys: { [keyId]: passphrase }, profile: 'rfc9421' })).toThrow(/secret of kInteropKey01 .*\{ utf8 \}/)
  })
})

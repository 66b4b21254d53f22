// The shared known-answer vectors, run through the client: same digest, same Signature-Input
// (up to the fresh nonce, which the client never lets a caller fix), and a MAC that matches an
// independent node:crypto HMAC over the vector's base with that nonce.
import { createHmac } from 'node:crypto'
import { contentDigest } from '@sigil/core'
import { describe, expect, it } from 'vitest'
import { RFC9530, SIGIL_V1, secretOf, vectorRequest } from '../../../test/vectors/load.js'
import { signRequest } from './sign-request.js'

describe('client runs the sigil v1 vectors', () => {
  for (const v of SIGIL_V1) {
    it(v.name, async () => {
      const signed = await signRequest(vectorRequest(v.request), {
        keyId: v.keyId,
        secret: secretOf(v.secretBase64),
        now: () => v.created * 1000,
        expiresInMs: (v.expiresIn ?? 0) * 1000,
      })
      const wantDigest = v.request.headers.find(([k]) => k.toLowerCase() === 'content-digest')?.[1] ?? null
      expect(signed.headers.get('content-digest')).toBe(wantDigest)
      const input = signed.headers.get('signature-input') as string
      const nonce = /;nonce="([^"]+)"/.exec(input)?.[1] as string
      expect(nonce).toMatch(/^[A-Za-z0-9_-]{22}$/)
      expect(input).toBe(v.signatureInput.replace(v.nonce, nonce))
      const base = v.base.replace(v.nonce, nonce)
      const mac = createHmac('sha256', secretOf(v.secretBase64)).update(base).digest('base64')
      expect(signed.headers.get('signature')).toBe(`sig1=:${mac}:`)
    })
  }
})

describe('client digests match RFC 9530 Appendix D', () => {
  for (const v of RFC9530) {
    it(`${v.name} (${v.source})`, async () => {
      expect(contentDigest(v.body, v.algorithm)).toBe(`${v.algorithm}=${v.digest}`)
      const signed = await signRequest(
        new Request('https://example.com/', { method: 'POST', body: v.body, headers: { 'content-type': 'application/json' } }),
        {
          keyId: 'kVectorKey01',
          secret: new Uint8Array(32),
          digestAlgorithm: v.algorithm,
        },
      )
      expect(signed.headers.get('content-digest')).toBe(`${v.algorithm}=${v.digest}`)
    })
  }
})

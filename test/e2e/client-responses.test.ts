// Response verification against a real node:http server that signs its answers (issue 17 items 7
// and 10): Content-Digest covers the bytes as sent, after content coding, so the client checks
// those — or refuses clearly when it cannot see them. Never a wrong accept.
import { gunzipSync } from 'node:zlib'
import { createSignedFetch, signRequest, verifyResponse } from '@sigil/client'
import { responseVerifier } from '@sigil/client/responses'
import { createSigningInterceptor } from '@sigil/client/undici'
import { Agent, interceptors, request, fetch as undiciFetch } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Echo, type RealServer, startApi } from './real-server.js'

let api: RealServer
beforeAll(async () => {
  api = await startApi()
})
afterAll(() => api.close())

const creds = () => ({ keyId: api.keyId, secret: api.secret })
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (e: { code?: string }) => e.code ?? String(e),
  )
const ENCODINGS = ['gzip', 'br', 'deflate'] as const

describe('undici interceptor verifyResponses checks the coded bytes', () => {
  const verifying = () => new Agent().compose(createSigningInterceptor({ ...creds(), verifyResponses: true, bufferStreams: true }))

  for (const enc of ENCODINGS) {
    it(`${enc}: undici.request (raw bytes), fetch and the decompress interceptor (decoded) all verify`, async () => {
      const d = verifying()
      const raw = await request(`${api.origin}/echo?encoding=${enc}`, { method: 'POST', body: 'hi', dispatcher: d })
      expect(raw.statusCode).toBe(200)
      expect(raw.headers['content-encoding']).toBe(enc)
      const bytes = Buffer.from(await raw.body.arrayBuffer())
      if (enc === 'gzip') expect(JSON.parse(gunzipSync(bytes).toString())).toMatchObject({ body: 'hi' })
      const viaFetch = await undiciFetch(`${api.origin}/echo?encoding=${enc}`, { method: 'POST', body: 'hi', dispatcher: d })
      expect(((await viaFetch.json()) as Echo).body).toBe('hi')
      const decoding = new Agent().compose(createSigningInterceptor({ ...creds(), verifyResponses: true }), interceptors.decompress())
      const dec = await request(`${api.origin}/echo?encoding=${enc}`, { method: 'PUT', body: 'yo', dispatcher: decoding })
      expect(((await dec.body.json()) as Echo).body).toBe('yo')
      await d.close()
      await decoding.close()
    })
  }

  it('HEAD, identity and 503 answers verify; an altered body, an unsigned answer and an oversized one do not', async () => {
    const d = verifying()
    const head = await request(`${api.origin}/echo`, { method: 'HEAD', dispatcher: d })
    expect(head.statusCode).toBe(200)
    await head.body.dump()
    expect(await codeOf(request(`${api.origin}/lie`, { dispatcher: d }).then((r) => r.body.text()))).toBe('RESPONSE_SIGNATURE_INVALID')
    // A 401 from the verifier is unsigned: refused, never handed over as if it came from the API.
    const wrongKey = new Agent().compose(
      createSigningInterceptor({ keyId: api.keyId, secret: new Uint8Array(32).fill(7), verifyResponses: true }),
    )
    expect(await codeOf(request(`${api.origin}/echo`, { dispatcher: wrongKey }))).toBe('RESPONSE_SIGNATURE_MISSING')
    const small = new Agent().compose(createSigningInterceptor({ ...creds(), verifyResponses: { maxBodyBytes: 1000 } }))
    expect(await codeOf(request(`${api.origin}/echo?size=5000`, { dispatcher: small }))).toBe('RESPONSE_TOO_LARGE')
    expect(await codeOf(request(`${api.origin}/echo?size=900`, { dispatcher: small }).then((r) => r.body.text()))).toBe('accepted')
    for (const x of [d, wrongKey, small]) await x.close()
  })
})

describe('createSignedFetch / verifyResponse (fetch decodes before we can hash)', () => {
  it('verifyResponses takes a verifier from @sigil/client/responses; true or bare options are refused, saying where to get one', async () => {
    for (const old of [true, { maxBodyBytes: 1000 }, 'yes']) {
      const make = () => createSignedFetch({ ...creds(), verifyResponses: old as never })
      expect(make).toThrow(expect.objectContaining({ code: 'CONFIGURATION_INVALID' }))
      expect(make).toThrow(/verifyResponses: expected a verifier: import \{ responseVerifier \} from '@sigil\/client\/responses'/)
    }
    // false stays "not checked": an unsigned answer goes through.
    const off = createSignedFetch({ ...creds(), verifyResponses: false })
    expect((await off(`${api.origin}/echo`)).status).toBe(200)
  })

  it('asks for identity, so a server that negotiates answers uncoded and verifies', async () => {
    const api2 = createSignedFetch({ ...creds(), verifyResponses: responseVerifier() })
    for (const enc of ENCODINGS) {
      const res = await api2(`${api.origin}/negotiated?encoding=${enc}`, { method: 'post', body: 'z' })
      expect(res.headers.get('content-encoding')).toBeNull()
      expect(((await res.json()) as Echo).body).toBe('z')
    }
  })

  it('a coded answer is refused with a message that says why (the digest covers bytes fetch decoded)', async () => {
    const api2 = createSignedFetch({ ...creds(), verifyResponses: responseVerifier() })
    for (const enc of ENCODINGS) {
      const err = await api2(`${api.origin}/echo?encoding=${enc}`).catch((e: Error & { code?: string }) => e)
      expect(err).toMatchObject({ code: 'RESPONSE_SIGNATURE_INVALID' })
      expect(String((err as Error).message)).toMatch(/content-coded/)
    }
  })

  it('HEAD verifies by signature (no content); tampering and unsigned answers are refused; over the limit is RESPONSE_TOO_LARGE', async () => {
    const api2 = createSignedFetch({ ...creds(), verifyResponses: responseVerifier({ maxBodyBytes: 1000 }) })
    expect((await api2(`${api.origin}/echo`, { method: 'head' })).status).toBe(200)
    expect(await codeOf(api2(`${api.origin}/lie`))).toBe('RESPONSE_SIGNATURE_INVALID')
    expect(await codeOf(api2(`${api.origin}/echo?size=5000`))).toBe('RESPONSE_TOO_LARGE')
    const wrong = createSignedFetch({ keyId: api.keyId, secret: new Uint8Array(32).fill(7), verifyResponses: responseVerifier() })
    expect(await codeOf(wrong(`${api.origin}/echo`))).toBe('RESPONSE_SIGNATURE_MISSING')
    const signed = await signRequest(new Request(`${api.origin}/echo`, { method: 'HEAD' }), creds())
    expect((await verifyResponse(await fetch(signed), signed, creds())).status).toBe(200)
  })
})

// Mutual authentication end to end (SPEC §5): createSignedFetch({ verifyResponses: responseVerifier() }) → msw
// handler wrapped in @sigil/server/msw withSigil → signResponse → the client checks the
// response. Handlers that tamper with a signed response (status, body, header) must be caught.
import { createSignedFetch, ResponseVerificationError } from '@sigil/client'
import { responseVerifier } from '@sigil/client/responses'
import { randomBytes } from '@sigil/core/internal'
import { createMemoryNonceStore, signResponse, type Verified, type VerifyOptions } from '@sigil/server'
import { withSigil } from '@sigil/server/msw'
import { HttpResponse, http } from 'msw'
import { setupServer } from 'msw/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const secret = randomBytes(32)
const keyId = 'kMutualAuth01'
const options: VerifyOptions = { keys: { [keyId]: secret, kOtherKey0002: randomBytes(32) }, nonceStore: createMemoryNonceStore() }
const api = 'https://mutual.example.com'

type Tamper = (signed: Response) => Promise<Response> | Response
const rebuild = async (r: Response, over: { status?: number; body?: BodyInit | null; headers?: Record<string, string | null> } = {}) => {
  const headers = new Headers(r.headers)
  for (const [k, v] of Object.entries(over.headers ?? {})) v === null ? headers.delete(k) : headers.set(k, v)
  return new Response(over.body !== undefined ? over.body : await r.arrayBuffer(), { status: over.status ?? r.status, headers })
}
const TAMPER: Record<string, Tamper> = {
  none: (r) => r,
  status: (r) => rebuild(r, { status: 200 }),
  body: (r) => rebuild(r, { body: '{"id":"ord_1","amount":1000000}' }),
  'content-type': (r) => rebuild(r, { headers: { 'content-type': 'text/html' } }),
  'content-digest and body': (r) =>
    rebuild(r, { body: '{}', headers: { 'content-digest': 'sha-256=:RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=:' } }),
  'signature stripped': (r) => rebuild(r, { headers: { signature: null, 'signature-input': null } }),
  'signature from another response': async (r) => {
    const other = await signResponse(Response.json({ other: true }, { status: 201 }), lastVerified as Verified, lastRequest as Request, {
      verifier: options,
    })
    return rebuild(r, { headers: { signature: other.headers.get('signature'), 'signature-input': other.headers.get('signature-input') } })
  },
}
let lastVerified: Verified | undefined
let lastRequest: Request | undefined

const server = setupServer(
  http.post(
    `${api}/v1/orders/:tamper`,
    withSigil(options, async ({ request, params, sigil }) => {
      lastVerified = sigil
      lastRequest = request
      const signed = await signResponse(Response.json({ id: 'ord_1', amount: 10 }, { status: 201 }), sigil, request, { verifier: options })
      return (TAMPER[decodeURIComponent(params.tamper as string)] as Tamper)(signed)
    }),
  ),
  http.get(
    `${api}/v1/empty`,
    withSigil(options, ({ request, sigil }) => signResponse(new Response(null, { status: 204 }), sigil, request, { verifier: options })),
  ),
  http.get(
    `${api}/v1/unsigned`,
    withSigil(options, () => HttpResponse.json({ ok: true })),
  ),
)
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterAll(() => server.close())

async function errorOf(p: Promise<unknown>) {
  try {
    await p
    return 'accepted'
  } catch (e) {
    if (e instanceof ResponseVerificationError) return e.code
    throw e
  }
}

describe('signed responses: client → msw → signResponse → client', () => {
  const client = createSignedFetch({ keyId, secret, verifyResponses: responseVerifier() })
  const post = (tamper: string) => client(`${api}/v1/orders/${encodeURIComponent(tamper)}`, { method: 'POST', body: '{"sku":"A-1"}' })

  it('accepts an untouched signed response; the body is still readable', async () => {
    const res = await post('none')
    expect(res.status).toBe(201)
    expect(res.headers.get('signature-input')).toContain('tag="sigil-response"')
    expect(res.headers.get('signature-input')).toContain('"signature";req;key="sig1"')
    expect(await res.json()).toEqual({ id: 'ord_1', amount: 10 })
  })

  it('accepts a signed 204 with no body', async () => {
    expect((await client(`${api}/v1/empty`)).status).toBe(204)
  })

  for (const tamper of Object.keys(TAMPER).filter((t) => t !== 'none')) {
    const code = tamper === 'signature stripped' ? 'RESPONSE_SIGNATURE_MISSING' : 'RESPONSE_SIGNATURE_INVALID'
    it(`a response tampered by the handler (${tamper}) → ${code}`, async () => {
      expect(await errorOf(post(tamper))).toBe(code)
    })
  }

  it('an unsigned response is refused, and the error carries status 502 and the untrusted response', async () => {
    const e = await client(`${api}/v1/unsigned`).catch((x) => x)
    expect(e).toBeInstanceOf(ResponseVerificationError)
    expect(e).toMatchObject({ code: 'RESPONSE_SIGNATURE_MISSING', status: 502 })
    expect((e.response as Response).status).toBe(200)
  })

  it('a response signed with another key is refused', async () => {
    const other = createSignedFetch({ keyId: 'kOtherKey0002', secret, verifyResponses: responseVerifier() })
    // The request itself fails verification (wrong secret), so the answer is an unsigned 401.
    expect(await errorOf(other(`${api}/v1/orders/none`, { method: 'POST', body: '{}' }))).toBe('RESPONSE_SIGNATURE_MISSING')
  })

  it('without verifyResponses the client does not check', async () => {
    const plain = createSignedFetch({ keyId, secret })
    expect((await plain(`${api}/v1/orders/body`, { method: 'POST', body: '{}' })).status).toBe(201)
  })
})

import { contentDigest, requestFromFetch } from '@sigil/core'
import { randomBytes, signResponseMessage } from '@sigil/core/internal'
import { describe, expect, it } from 'vitest'
import { signRequest } from './sign-request.js'
import { verifyResponse } from './verify-response.js'

const credentials = { keyId: 'kClientResp01', secret: randomBytes(32) }

/** A response signed the way @sigil/server does it, built here with core only. */
async function signed(request: Request, body: string, status = 200, created = 1_735_689_600) {
  const headers = new Headers({ 'content-type': 'text/plain', 'content-digest': contentDigest(body) })
  const s = await signResponseMessage(
    { status, headers, request: requestFromFetch(request) },
    { ...credentials, created, requestLabel: 'sig1' },
  )
  headers.set('signature-input', s.signatureInput)
  headers.set('signature', s.signature)
  return { headers, body, status }
}

async function codeOf(p: Promise<unknown>) {
  return p.then(
    () => 'accepted',
    (e: { code?: string }) => e.code,
  )
}

describe('verifyResponse', () => {
  it('resolves with the same response, body unread', async () => {
    const req = await signRequest(new Request('https://api.example.com/v1'), credentials)
    const s = await signed(req, 'hello')
    const res = new Response(s.body, s)
    expect(await verifyResponse(res, req, credentials)).toBe(res)
    expect(await res.text()).toBe('hello')
  })

  it('checks the body against its digest, under a size limit', async () => {
    const req = await signRequest(new Request('https://api.example.com/v1'), credentials)
    const s = await signed(req, 'hello')
    expect(await codeOf(verifyResponse(new Response('hellO', s), req, credentials))).toBe('RESPONSE_SIGNATURE_INVALID')
    expect(await codeOf(verifyResponse(new Response('hello', s), req, credentials, { maxBodyBytes: 4 }))).toBe('RESPONSE_TOO_LARGE')
  })

  it('binds the response to its request: the answer to one request does not verify for another', async () => {
    const a = await signRequest(new Request('https://api.example.com/a'), credentials)
    const b = await signRequest(new Request('https://api.example.com/a'), credentials)
    const s = await signed(a, 'for a')
    expect(await codeOf(verifyResponse(new Response(s.body, s), b, credentials))).toBe('RESPONSE_SIGNATURE_INVALID')
  })

  it('refuses a response with no signature, or signed with another key', async () => {
    const req = await signRequest(new Request('https://api.example.com/v1'), credentials)
    expect(await codeOf(verifyResponse(new Response('x'), req, credentials))).toBe('RESPONSE_SIGNATURE_MISSING')
    const s = await signed(req, 'x')
    const other = { keyId: 'kClientResp01', secret: randomBytes(32) }
    expect(await codeOf(verifyResponse(new Response(s.body, s), req, other))).toBe('RESPONSE_SIGNATURE_INVALID')
  })
})

import { createServer, type Server } from 'node:http'
import { createSignedFetch, ResponseVerificationError, signRequest, verifyResponse } from '@sigil/client'
import { responseVerifier } from '@sigil/client/responses'
import type { KeyRecord } from '@sigil/core'
import { parseSignatures } from '@sigil/core'
import { randomBytes } from '@sigil/core/internal'
import { afterEach, describe, expect, it } from 'vitest'
import { withSigil } from '../adapters/node/index.js'
import { incomingFromNode } from './node-http.js'
import { signNodeResponse, signResponse } from './sign-response.js'
import { createVerifier } from './verifier.js'
import { verify } from './verify.js'

const secret = randomBytes(32)
const keyId = 'kRespSigner01'
const credentials = { keyId, secret }
const record = (status: KeyRecord['status'] = 'active'): KeyRecord => ({
  keyId,
  secret,
  principal: 'p',
  scopes: [],
  status,
  createdAt: new Date(0),
})

describe('signResponse (Web)', () => {
  it('adds Content-Digest, Signature-Input and Signature, keeps status, statusText, headers and body', async () => {
    const verifier = createVerifier({ keys: { [keyId]: secret } })
    const request = await signRequest(new Request('https://api.example.com/v1/x', { method: 'POST', body: '{"a":1}' }), credentials)
    const verified = await verify(request, verifier)
    const res = await signResponse(
      new Response('{"ok":true}', { status: 202, statusText: 'Accepted', headers: { 'content-type': 'application/json', 'x-app': '1' } }),
      verified,
      request,
      { verifier },
    )
    expect(res.status).toBe(202)
    expect(res.statusText).toBe('Accepted')
    expect(res.headers.get('x-app')).toBe('1')
    expect(res.headers.get('content-digest')).toMatch(/^sha-256=:/)
    const [entry] = parseSignatures(res.headers.get('signature-input'), res.headers.get('signature'))
    expect(entry?.params).toMatchObject({ keyid: keyId, tag: 'sigil-response', alg: 'hmac-sha256' })
    expect(entry?.components.map((c) => c.id)).toEqual(['"@status"', '"content-type"', '"content-digest"', '"signature";req;key="sig1"'])
    expect(await (await verifyResponse(res, request, credentials)).text()).toBe('{"ok":true}')
  })

  it('honours tag, label and sha-512; the client checks the tag it is told', async () => {
    const verifier = createVerifier({ keys: { [keyId]: secret } })
    const request = await signRequest(new Request('https://api.example.com/'), credentials)
    const verified = await verify(request, verifier)
    const res = await signResponse(new Response('x'), verified, request, { verifier, tag: 'mine', label: 'r1', digestAlgorithm: 'sha-512' })
    expect(res.headers.get('content-digest')).toMatch(/^sha-512=:/)
    expect(res.headers.get('signature')).toMatch(/^r1=:/)
    await expect(verifyResponse(res.clone(), request, credentials)).rejects.toMatchObject({ code: 'RESPONSE_SIGNATURE_MISSING' })
    await expect(verifyResponse(res, request, credentials, { tag: 'mine' })).resolves.toBeInstanceOf(Response)
  })

  it('refuses to sign with a key that was revoked after the request was verified', async () => {
    let key = record()
    const verifier = createVerifier({ keys: { get: () => key } })
    const request = await signRequest(new Request('https://api.example.com/'), credentials)
    const verified = await verify(request, verifier)
    key = record('revoked')
    await expect(signResponse(new Response('x'), verified, request, { verifier })).rejects.toMatchObject({ code: 'KEY_UNKNOWN' })
  })

  it.each([
    ['expiresAt', { expiresAt: new Date(2_000_000) }],
    ['notAfter (a rotation grace that ended)', { notAfter: new Date(2_000_000) }],
  ])('refuses to sign with a key whose %s passed after the request was verified, by the verifier clock', async (_, ends) => {
    let nowMs = 1_000_000
    const verifier = createVerifier({ keys: { get: () => ({ ...record(), ...ends }) }, now: () => nowMs })
    const request = await signRequest(new Request('https://api.example.com/'), { ...credentials, now: () => nowMs })
    const verified = await verify(request, verifier)
    // Still active at the verifier's instant: it signs.
    await expect(signResponse(new Response('x'), verified, request, { verifier })).resolves.toBeInstanceOf(Response)
    nowMs = 2_000_000
    await expect(signResponse(new Response('x'), verified, request, { verifier })).rejects.toMatchObject({ code: 'KEY_UNKNOWN' })
  })
})

describe('signNodeResponse and withSigil({ signResponses })', () => {
  let server: Server | undefined
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())))
  const listen = async (s: Server) => {
    server = s
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
    return `http://127.0.0.1:${(s.address() as { port: number }).port}`
  }

  it('signs what a handler writes with writeHead, write and end; the signed fetch verifies it', async () => {
    const base = await listen(
      createServer(
        withSigil(
          { keys: { [keyId]: secret } },
          (_req, res, v) => {
            res.writeHead(201, 'Made', { 'content-type': 'text/plain' })
            res.write('hello ')
            res.end(v?.principal)
          },
          { signResponses: true },
        ),
      ),
    )
    const api = createSignedFetch({ ...credentials, verifyResponses: responseVerifier() })
    const res = await api(`${base}/v1/things`, { method: 'POST', body: 'x' })
    expect(res.status).toBe(201)
    expect(await res.text()).toBe(`hello ${keyId}`)
  })

  it('a handler that changes the body after signing is caught (control: the check is real)', async () => {
    const base = await listen(
      createServer(withSigil({ keys: { [keyId]: secret } }, (_req, res) => void res.end('original'), { signResponses: true })),
    )
    const tamper = async (r: Request) => {
      const res = await fetch(r)
      return new Response('tampered', { status: res.status, headers: res.headers })
    }
    const api = createSignedFetch({ ...credentials, verifyResponses: responseVerifier(), fetch: tamper as typeof fetch })
    await expect(api(`${base}/`)).rejects.toBeInstanceOf(ResponseVerificationError)
  })

  it('turns a response it cannot sign into a bodiless 500, never an unsigned 200', async () => {
    let key = record()
    const verifier = createVerifier({ keys: { get: () => key } })
    const base = await listen(
      createServer(async (req, res) => {
        const verified = await verifier.verifyIncoming(incomingFromNode(req, verifier))
        signNodeResponse(res, verified, req, { verifier })
        key = record('revoked')
        res.end('secret data')
      }),
    )
    const signed = await signRequest(new Request(`${base}/`), credentials)
    const res = await fetch(signed)
    expect(res.status).toBe(500)
    expect(await res.text()).toBe('')
  })
})

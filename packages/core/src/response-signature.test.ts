import { describe, expect, it } from 'vitest'
import { outcomeOf as codeOf } from '../../../test/helpers/outcome.js'
import { secretOf, vectorRequest } from '../../../test/vectors/load.js'
import responseVectors from '../../../test/vectors/sigil-response-v1.json' with { type: 'json' }
import { component } from './components.js'
import { ComponentError, VerificationError } from './errors.js'
import { type RequestMessage, type ResponseMessage, requestFromFetch } from './message.js'
import { responseComponents, signResponseMessage, verifyResponseMessage } from './response-signature.js'
import { componentValue } from './signature-base.js'

interface ResponseVector {
  name: string
  source: string
  request: { method: string; url: string; headers: [string, string][]; body?: string }
  requestLabel: string
  keyId: string
  secretBase64: string
  created: number
  response: { status: number; headers: [string, string][]; body: string }
  signatureInput: string
  signature: string
  base: string
}
const VECTORS = responseVectors.cases as ResponseVector[]

function viewOf(v: ResponseVector, extra: [string, string][] = []): ResponseMessage {
  const req = vectorRequest(v.request)
  const request: RequestMessage = { ...requestFromFetch(req), headers: new Headers(v.request.headers.filter(([k]) => k !== 'Host')) }
  return { status: v.response.status, headers: new Headers([...v.response.headers, ...extra]), request }
}

describe('sigil response vectors (SPEC §5)', () => {
  for (const v of VECTORS) {
    it(`${v.name} — signs to the known answer and verifies (${v.source})`, async () => {
      const secret = secretOf(v.secretBase64)
      const signed = await signResponseMessage(viewOf(v), { keyId: v.keyId, secret, created: v.created, requestLabel: v.requestLabel })
      expect(signed.base).toBe(v.base)
      expect(signed.signatureInput).toBe(v.signatureInput)
      expect(signed.signature).toBe(v.signature)
      const view = viewOf(v, [
        ['Signature-Input', v.signatureInput],
        ['Signature', v.signature],
      ])
      const entry = await verifyResponseMessage(view, { keyId: v.keyId, secret, requestLabel: v.requestLabel })
      expect(entry.params.tag).toBe('sigil-response')
    })
  }
})

describe('verifyResponseMessage', () => {
  const v = VECTORS[0] as ResponseVector
  const secret = secretOf(v.secretBase64)
  const opts = { keyId: v.keyId, secret, requestLabel: v.requestLabel }
  const signedView = (patch: (m: ResponseMessage) => ResponseMessage = (m) => m) => {
    const m = viewOf(v, [
      ['Signature-Input', v.signatureInput],
      ['Signature', v.signature],
    ])
    return patch(m)
  }
  const setHeader = (name: string, value: string | null) => (m: ResponseMessage) => {
    const h = new Headers(m.headers as Headers)
    value === null ? h.delete(name) : h.set(name, value)
    return { ...m, headers: h }
  }

  const cases: Array<[string, string, ResponseMessage, Partial<typeof opts>?]> = [
    ['unsigned', 'RESPONSE_SIGNATURE_MISSING', viewOf(v)],
    [
      'signature with another tag only',
      'RESPONSE_SIGNATURE_MISSING',
      signedView(setHeader('signature-input', v.signatureInput.replace('sigil-response', 'x'))),
    ],
    ['status changed', 'RESPONSE_SIGNATURE_INVALID', signedView((m) => ({ ...m, status: 200 }))],
    ['content-type changed', 'RESPONSE_SIGNATURE_INVALID', signedView(setHeader('content-type', 'text/html'))],
    ['content-digest changed', 'RESPONSE_SIGNATURE_INVALID', signedView(setHeader('content-digest', 'sha-256=:AAAA:'))],
    [
      'answer to another request (request signature differs)',
      'RESPONSE_SIGNATURE_INVALID',
      signedView((m) => ({ ...m, request: { ...(m.request as RequestMessage), headers: new Headers({ signature: 'sig1=:AAAA:' }) } })),
    ],
    ['request label missing from the request', 'RESPONSE_SIGNATURE_INVALID', signedView(), { requestLabel: 'sig2' }],
    ['signed with another key id', 'RESPONSE_SIGNATURE_INVALID', signedView(), { keyId: 'k_other' }],
    ['wrong secret', 'RESPONSE_SIGNATURE_INVALID', signedView(), { secret: new Uint8Array(32) }],
    [
      'request signature not covered',
      'RESPONSE_SIGNATURE_INVALID',
      signedView(setHeader('signature-input', v.signatureInput.replace(' "signature";req;key="sig1"', ''))),
    ],
    [
      'alg disagrees',
      'RESPONSE_SIGNATURE_INVALID',
      signedView(setHeader('signature-input', v.signatureInput.replace('hmac-sha256', 'ed25519'))),
    ],
    ['malformed', 'RESPONSE_SIGNATURE_INVALID', signedView(setHeader('signature', 'sig1=:!!:'))],
    [
      'two signatures with the response tag',
      'RESPONSE_SIGNATURE_INVALID',
      signedView((m) =>
        setHeader(
          'signature',
          `${v.signature}, sig2=:AAAA:`,
        )(setHeader('signature-input', `${v.signatureInput}, ${v.signatureInput.replace('sig1=', 'sig2=')}`)(m)),
      ),
    ],
  ]
  for (const [name, code, message, over] of cases) {
    it(`${name} → ${code}`, async () => {
      expect(await codeOf(verifyResponseMessage(message, { ...opts, ...over }))).toBe(code)
    })
  }

  it('errors are VerificationErrors with status 502 and say nothing secret', async () => {
    const e = await verifyResponseMessage(signedView(setHeader('content-type', 'text/html')), opts).catch((x) => x)
    expect(e).toBeInstanceOf(VerificationError)
    expect(e).toMatchObject({ name: 'ResponseVerificationError', status: 502 })
    expect(e.message).not.toContain(v.signature.slice(6, 20))
  })
})

describe('"signature";req;key (RFC 9421 §2.4)', () => {
  const request: RequestMessage = {
    ...requestFromFetch(new Request('https://api.example.com/')),
    headers: new Headers({ signature: 'proxy=:AAAA:, sig1=:BBBB:' }),
  }
  const response: ResponseMessage = { status: 200, headers: new Headers(), request }
  it('takes the labelled member of the request signature, strictly serialized', () => {
    expect(componentValue(response, component('signature', { req: true, key: 'sig1' }))).toBe(':BBBB:')
    expect(componentValue(response, component('signature', { req: true, key: 'proxy' }))).toBe(':AAAA:')
  })
  it('fails to derive a missing label, and req on a request', () => {
    expect(() => componentValue(response, component('signature', { req: true, key: 'sig9' }))).toThrow(ComponentError)
    expect(() => componentValue(request, component('signature', { req: true, key: 'sig1' }))).toThrow(ComponentError)
  })
  it('responseComponents covers content-type only when present', () => {
    expect(responseComponents(false, 'sig1').map((c) => c.id)).toEqual(['"@status"', '"content-digest"', '"signature";req;key="sig1"'])
  })
})

// verify(request, v, { consumeBody: true }) (issue 13): the verifier reads the request's own body
// stream instead of a tee'd clone, with the same checks; the app reads `verified.body`.
import { signRequest } from '@sigil/client'
import type { KeyRecord } from '@sigil/core'
import { randomBytes } from '@sigil/core/internal'
import { describe, expect, it } from 'vitest'
import { outcomeOf as codeOf } from '../../../../test/helpers/outcome.js'
import { createMemoryNonceStore } from './memory-nonce-store.js'
import type { VerifyOptions } from './options.js'
import { createVerifier } from './verifier.js'
import { verify } from './verify.js'

const secret = randomBytes(32)
const keyId = 'kTestKey0001'
const T0 = 1_735_689_600_000
const key: KeyRecord = {
  keyId,
  secret,
  principal: 'partner-a',
  scopes: ['orders:write'],
  status: 'active',
  createdAt: new Date(0),
}
const setup = (over: Partial<VerifyOptions> = {}) =>
  createVerifier({
    keys: { get: (id) => (id === keyId ? key : undefined) },
    now: () => T0,
    nonceStore: createMemoryNonceStore({ now: () => T0 }),
    ...over,
  })
const sign = (req: Request) => signRequest(req, { keyId, secret, now: () => T0 })
const post = (body: BodyInit = '{"sku":"A-1"}') =>
  new Request('https://api.example.com/v1/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body })
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b))
const CONSUME = { consumeBody: true } as const

describe('verify(request, verifier, { consumeBody: true })', () => {
  it('reads the request itself: the verified bytes are on the result and the body is used', async () => {
    const req = await sign(post())
    const v = await verify(req, setup(), CONSUME)
    expect(text(v.body)).toBe('{"sku":"A-1"}')
    expect(req.bodyUsed).toBe(true)
    await expect(req.json()).rejects.toThrow(TypeError)
  })

  it('keeps the bytes even when the verifier does not retain bodies', async () => {
    const v = await verify(await sign(post()), setup({ retainBody: false }), CONSUME)
    expect(text(v.body)).toBe('{"sku":"A-1"}')
  })

  it('keeps route requirements from the same context', async () => {
    expect(await codeOf(verify(await sign(post()), setup(), { ...CONSUME, requiredScopes: ['admin'] }))).toBe('SCOPE_DENIED')
  })

  it('rejects a body that does not match its digest', async () => {
    const s = await sign(post())
    const forged = new Request(s.url, { method: 'POST', headers: s.headers, body: '{"sku":"B-2"}' })
    expect(await codeOf(verify(forged, setup(), CONSUME))).toBe('DIGEST_MISMATCH')
  })

  it('rejects a body over the size limit', async () => {
    expect(await codeOf(verify(await sign(post('x'.repeat(2048))), setup({ maxBodyBytes: 1024 }), CONSUME))).toBe('BODY_TOO_LARGE')
  })

  it('rejects a body that does not arrive within the deadline', async () => {
    const s = await sign(post())
    // Same headers (digest of the real body), a stream that never ends.
    const stalled = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new TextEncoder().encode('{"sku"')) })
    const req = new Request(s.url, { method: 'POST', headers: s.headers, body: stalled, duplex: 'half' } as RequestInit)
    expect(await codeOf(verify(req, setup({ bodyTimeoutMs: 20 }), CONSUME))).toBe('BODY_TIMEOUT')
  })

  it('accepts an empty body', async () => {
    const v = await verify(await sign(post('')), setup(), CONSUME)
    expect(v.principal).toBe('partner-a')
    expect(v.body === undefined || v.body.byteLength === 0).toBe(true)
  })

  it('accepts a body-less GET, with no body on the result', async () => {
    const req = await sign(new Request('https://api.example.com/v1/orders', { method: 'GET' }))
    const v = await verify(req, setup(), CONSUME)
    expect(v.principal).toBe('partner-a')
    expect(v.body).toBeUndefined()
  })

  it('still refuses bytes no digest covers', async () => {
    const s = await sign(new Request('https://api.example.com/v1/orders', { method: 'POST' }))
    expect(s.headers.has('content-digest')).toBe(false)
    const req = new Request(s.url, { method: 'POST', headers: s.headers, body: 'x' })
    expect(await codeOf(verify(req, setup(), CONSUME))).toBe('DIGEST_MISSING')
  })

  it('by default reads a clone: the app can still read the request', async () => {
    const req = await sign(post())
    const v = await verify(req, setup())
    expect(text(v.body)).toBe('{"sku":"A-1"}')
    expect(req.bodyUsed).toBe(false)
    expect(await req.json()).toEqual({ sku: 'A-1' })
  })
})

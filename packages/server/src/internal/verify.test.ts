import { signRequest } from '@sigil/client'
import type { KeyRecord, SigilErrorCode } from '@sigil/core'
import { randomBytes } from '@sigil/core/internal'
import { describe, expect, it } from 'vitest'
import { outcomeOf as codeOf } from '../../../../test/helpers/outcome.js'
import { RFC9421, SIGIL_V1, secretOf, vectorRequest } from '../../../../test/vectors/load.js'
import { createMemoryRateLimiter } from '../rate-limit.js'
import { createMemoryNonceStore } from './memory-nonce-store.js'
import type { VerifyOptions } from './options.js'
import { problemResponse, toProblem } from './problem.js'
import { verify } from './verify.js'

const secret = randomBytes(32)
const keyId = 'kTestKey0001'
const T0 = 1_735_689_600_000
const record = (over: Partial<KeyRecord> = {}): KeyRecord => ({
  keyId,
  secret,
  principal: 'partner-a',
  scopes: ['orders:read', 'orders:write'],
  status: 'active',
  createdAt: new Date(0),
  ...over,
})

function setup(over: Partial<VerifyOptions> = {}, keyOrNull: KeyRecord | null = record()) {
  const key = keyOrNull ?? undefined
  const options: VerifyOptions = {
    keys: { get: (id) => (id === keyId ? key : undefined) },
    now: () => T0,
    nonceStore: createMemoryNonceStore({ now: () => T0 }),
    ...over,
  }
  return options
}

const sign = (req: Request, o: { now?: number; keyId?: string; components?: string[]; expiresInMs?: number } = {}) =>
  signRequest(req, {
    keyId: o.keyId ?? keyId,
    secret,
    now: () => o.now ?? T0,
    ...(o.components ? { components: o.components } : {}),
    ...(o.expiresInMs ? { expiresInMs: o.expiresInMs } : {}),
  })

const post = (url = 'https://api.example.com/v1/orders?b=2&a=1', body = '{"sku":"A-1"}') =>
  new Request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })

function withHeaders(req: Request, patch: Record<string, string | null>): Request {
  const h = new Headers(req.headers)
  for (const [k, v] of Object.entries(patch)) v === null ? h.delete(k) : h.set(k, v)
  return new Request(req.url, { method: req.method, headers: h, body: req.body, duplex: 'half' } as RequestInit)
}

describe('verify()', () => {
  it('accepts a signed request and hands back who signed it and the body', async () => {
    const v = await verify(await sign(post()), setup())
    expect(v).toMatchObject({ keyId, principal: 'partner-a', created: T0 / 1000, label: 'sig1' })
    expect(new TextDecoder().decode(v.body)).toBe('{"sku":"A-1"}')
  })

  it('runs the sigil v1 vectors', async () => {
    for (const vec of SIGIL_V1) {
      const req = vectorRequest(vec.request)
      const h = new Headers(req.headers)
      h.set('signature-input', vec.signatureInput)
      h.set('signature', vec.signature)
      if (vec.request.body !== undefined && !h.has('content-digest')) throw new Error('vector lacks digest')
      const signed = new Request(req.url, { method: req.method, headers: h, body: vec.request.body ?? null })
      const v = await verify(signed, { keys: { [vec.keyId]: secretOf(vec.secretBase64) }, now: () => vec.created * 1000 })
      expect(v.keyId).toBe(vec.keyId)
    }
  })

  it('verifies RFC 9421 B.2.5 under the rfc9421 profile', async () => {
    const vec = RFC9421.find((c) => c.signature)!
    const req = vectorRequest(vec.request!)
    const h = new Headers(req.headers)
    h.set('signature-input', vec.signatureInput)
    h.set('signature', vec.signature!)
    const signed = new Request(req.url, { method: req.method, headers: h, body: vec.request!.body! })
    const v = await verify(signed, {
      keys: { 'test-shared-secret': secretOf(vec.secretBase64!) },
      profile: 'rfc9421',
      // B.2.5 covers only date, @authority and content-type: the floor must be lowered explicitly.
      requiredComponents: ['@authority'],
      now: () => 1618884473_000,
    })
    expect(v).toMatchObject({ keyId: 'test-shared-secret', label: 'sig-b25' })
    // Without lowering it, the rfc9421 floor (@method @authority @path) refuses it.
    expect(
      await codeOf(
        verify(signed.clone(), {
          keys: { 'test-shared-secret': secretOf(vec.secretBase64!) },
          profile: 'rfc9421',
          now: () => 1618884473_000,
        }),
      ),
    ).toBe('PROFILE_VIOLATION')
    // the same request under the sigil profile lacks nonce and tag
    expect(await codeOf(verify(signed, { keys: { 'test-shared-secret': secretOf(vec.secretBase64!) }, now: () => 1618884473_000 }))).toBe(
      'SIGNATURE_MISSING',
    )
  })

  const cases: Array<[SigilErrorCode, () => Promise<unknown>]> = [
    ['SIGNATURE_MISSING', async () => verify(post(), setup())],
    ['SIGNATURE_MALFORMED', async () => verify(withHeaders(await sign(post()), { signature: 'sig1=:!!!' }), setup())],
    ['SIGNATURE_MALFORMED', async () => verify(withHeaders(await sign(post()), { signature: 'sig1=:AAAA:, sig1=:AAAA:' }), setup())],
    ['SIGNATURE_MALFORMED', async () => verify(withHeaders(await sign(post()), { signature: 'sig2=:AAAA:' }), setup())],
    [
      'PROFILE_VIOLATION',
      async () => {
        const s = await sign(post())
        const si = (s.headers.get('signature-input') as string).replace('"@query" ', '')
        return verify(withHeaders(s, { 'signature-input': si }), setup())
      },
    ],
    [
      'PROFILE_VIOLATION',
      async () => {
        const s = await sign(post())
        return verify(
          withHeaders(s, { 'signature-input': (s.headers.get('signature-input') as string).replace('hmac-sha256', 'rsa-pss-sha512') }),
          setup(),
        )
      },
    ],
    ['CLOCK_SKEW', async () => verify(await sign(post(), { now: T0 - 600_000 }), setup())],
    ['CLOCK_SKEW', async () => verify(await sign(post(), { now: T0 + 301_000 }), setup())],
    ['SIGNATURE_EXPIRED', async () => verify(await sign(post(), { now: T0 - 100_000, expiresInMs: 60_000 }), setup())],
    ['KEY_UNKNOWN', async () => verify(await sign(post(), { keyId: 'kOtherKey0002' }), setup())],
    ['KEY_REVOKED', async () => verify(await sign(post()), setup({}, record({ status: 'revoked' })))],
    ['KEY_EXPIRED', async () => verify(await sign(post()), setup({}, record({ expiresAt: new Date(T0 - 1) })))],
    ['KEY_EXPIRED', async () => verify(await sign(post()), setup({}, record({ notAfter: new Date(T0) })))],
    ['SIGNATURE_INVALID', async () => verify(withHeaders(await sign(post()), { 'content-type': 'text/plain' }), setup())],
    [
      'NONCE_REPLAYED',
      async () => {
        const o = setup()
        const s = await sign(post())
        await verify(s.clone(), o)
        return verify(s, o)
      },
    ],
    [
      'DIGEST_MISSING',
      async () =>
        verify(
          await sign(new Request('https://api.example.com/x', { method: 'GET' })).then((s) => withHeaders(s, { 'content-length': '3' })),
          setup(),
        ),
    ],
    [
      'DIGEST_MISMATCH',
      async () => {
        const s = await sign(post())
        return verify(new Request(s.url, { method: 'POST', headers: s.headers, body: '{"sku":"B-2"}' }), setup())
      },
    ],
    ['BODY_TOO_LARGE', async () => verify(withHeaders(await sign(post()), { 'content-length': '2000000' }), setup())],
    ['BODY_TOO_LARGE', async () => verify(await sign(post(undefined, 'x'.repeat(2048))), setup({ maxBodyBytes: 1024 }))],
    ['SCOPE_DENIED', async () => verify(await sign(post()), setup({ requiredScopes: ['admin'] }))],
    [
      'RATE_LIMITED',
      async () => {
        const o = setup({ rateLimiter: createMemoryRateLimiter({ rate: { points: 1, windowMs: 60_000 } }) })
        await verify(await sign(post()), o)
        return verify(await sign(post()), o)
      },
    ],
    [
      'QUOTA_EXCEEDED',
      async () => {
        const o = setup({ rateLimiter: createMemoryRateLimiter({ quota: { points: 1, periodMs: 86_400_000 } }) })
        await verify(await sign(post()), o)
        return verify(await sign(post()), o)
      },
    ],
    ['STORE_UNAVAILABLE', async () => verify(await sign(post()), setup({ keys: { get: () => Promise.reject(new Error('down')) } }))],
    [
      'STORE_UNAVAILABLE',
      async () => verify(await sign(post()), setup({ nonceStore: { checkAndSet: () => new Promise(() => {}) }, storeTimeoutMs: 20 })),
    ],
  ]
  for (const [code, run] of cases) {
    it(`rejects with ${code}: ${run.toString().slice(14, 90).replace(/\s+/g, ' ')}`, async () => {
      expect(await codeOf(run())).toBe(code)
    })
  }

  it('opaque mode: unknown, revoked and expired keys look like a bad MAC', async () => {
    for (const key of [null, record({ status: 'revoked' }), record({ expiresAt: new Date(0) })]) {
      expect(await codeOf(verify(await sign(post()), setup({ opaque: true }, key)))).toBe('SIGNATURE_INVALID')
    }
  })

  it('never accepts a replay even across verify() calls that share the store, and only records after a good MAC', async () => {
    const o = setup()
    const s = await sign(post())
    const forged = withHeaders(s.clone(), { signature: 'sig1=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:' })
    expect(await codeOf(verify(forged, o))).toBe('SIGNATURE_INVALID')
    expect(await codeOf(verify(s, o))).toBe('accepted')
  })

  it('uses the configured public authority, not the Host header', async () => {
    const s = await sign(post('https://api.example.com/v1/orders'))
    const behindProxy = new Request('http://10.0.0.5:8080/v1/orders', { method: 'POST', headers: s.headers, body: await s.arrayBuffer() })
    expect(await codeOf(verify(behindProxy.clone(), setup()))).toBe('SIGNATURE_INVALID')
    expect(await codeOf(verify(behindProxy, setup({ authority: 'api.example.com', scheme: 'https' })))).toBe('accepted')
  })

  it('renders problem+json with Date, WWW-Authenticate and no secrets', async () => {
    const s = await sign(post(), { now: T0 - 600_000 })
    const err = await verify(s, setup()).catch((e) => e)
    const res = problemResponse(err)
    expect(res.status).toBe(401)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(res.headers.get('date')).toBeTruthy()
    expect(res.headers.get('www-authenticate')).toContain('Signature')
    const body = await res.json()
    expect(body).toMatchObject({ code: 'CLOCK_SKEW', status: 401 })
    const text = JSON.stringify(body)
    expect(text).not.toContain(s.headers.get('signature')!.slice(6, 30))
  })

  it('rate-limit rejections carry Retry-After and RateLimit headers', async () => {
    const o = setup({ rateLimiter: createMemoryRateLimiter({ rate: { points: 1, windowMs: 60_000 } }) })
    await verify(await sign(post()), o)
    const p = toProblem(await verify(await sign(post()), o).catch((e) => e))
    expect(p.status).toBe(429)
    expect(Number(p.headers['retry-after'])).toBeGreaterThan(0)
    expect(p.headers.ratelimit).toMatch(/r=0/)
    expect(p.headers['ratelimit-policy']).toMatch(/q=1;w=60/)
  })

  it('debug adds the server signature base; refused in production', async () => {
    const s = await sign(post())
    const err = await verify(withHeaders(s, { 'content-type': 'text/plain' }), setup({ debug: true })).catch((e) => e)
    expect(toProblem(err).body.signatureBase).toContain('"content-type": text/plain')
    const prev = process.env.NODE_ENV
    process.env.NODE_ENV = 'production'
    try {
      expect(() => verify(s, setup({ debug: true }))).toThrow(/production/)
    } finally {
      process.env.NODE_ENV = prev
    }
  })

  it('usage is recorded off the path and a throwing recorder never fails a request', async () => {
    const events: string[] = []
    const ok = await verify(await sign(post()), setup({ usage: { record: (e) => void events.push(e.outcome) } }))
    expect(ok.keyId).toBe(keyId)
    await codeOf(verify(await sign(post(), { now: 0 }), setup({ usage: { record: (e) => void events.push(e.outcome) } })))
    expect(events).toEqual(['accepted', 'CLOCK_SKEW'])
    const seen: Array<{ outcome: string; keyFound?: boolean }> = []
    const rec = { record: (e: { outcome: string; keyFound?: boolean }) => void seen.push({ outcome: e.outcome, keyFound: e.keyFound }) }
    await codeOf(verify(await sign(post(), { now: 0 }), setup({ usage: rec })))
    await codeOf(verify(await sign(post(), { keyId: 'kOtherKey0002' }), setup({ usage: rec })))
    await codeOf(verify(withHeaders(await sign(post()), { 'content-type': 'text/plain' }), setup({ usage: rec })))
    expect(seen).toEqual([
      { outcome: 'CLOCK_SKEW', keyFound: undefined },
      { outcome: 'KEY_UNKNOWN', keyFound: false },
      { outcome: 'SIGNATURE_INVALID', keyFound: true },
    ])
    const v = await verify(
      await sign(post()),
      setup({
        usage: {
          record: () => {
            throw new Error('boom')
          },
        },
      }),
    )
    expect(v.keyId).toBe(keyId)
  })
})

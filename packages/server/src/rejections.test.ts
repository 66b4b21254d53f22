// One case per rejection code of SPEC §3's failures table, each through the public verify(): the
// codes are read from docs/spec.md, so a code added there without a case here fails this file.
import { readFileSync } from 'node:fs'
import { signRequest } from '@sigil/client'
import { type KeyRecord, statusOf, VerificationError } from '@sigil/core'
import { randomBytes } from '@sigil/core/internal'
import { describe, expect, it } from 'vitest'
import { type VerifyOptions, verify } from './index.js'
import { createMemoryNonceStore } from './internal/memory-nonce-store.js'
import { createMemoryRateLimiter } from './rate-limit.js'

const spec = readFileSync(new URL('../../../docs/spec.md', import.meta.url), 'utf8')
const failures = spec.slice(spec.indexOf('## 3. Failures'), spec.indexOf('## 4. Keys'))
/** Each request-rejection row of the table: its codes and its status (admin-only rows are not verify()'s). */
const rows = [...failures.matchAll(/^\| (`[A-Z_]+`(?: \/ `[A-Z_]+`)*) \| (\d{3}) \| (.*) \|$/gm)]
  .filter((m) => !(m[3] as string).startsWith('admin only'))
  .flatMap((m) => [...(m[1] as string).matchAll(/`([A-Z_]+)`/g)].map((c) => ({ code: c[1] as string, status: Number(m[2]) })))

const secret = randomBytes(32)
const keyId = 'kRejections01'
const T0 = 1_735_689_600_000
const record = (over: Partial<KeyRecord> = {}): KeyRecord => ({
  keyId,
  secret,
  principal: 'partner-a',
  scopes: ['orders:read'],
  status: 'active',
  createdAt: new Date(0),
  ...over,
})
const options = (over: Partial<VerifyOptions> = {}, key: KeyRecord | undefined = record()): VerifyOptions => ({
  keys: { get: (id) => (id === keyId ? key : undefined) },
  now: () => T0,
  nonceStore: createMemoryNonceStore({ now: () => T0 }),
  ...over,
})
const post = (body: BodyInit = '{"sku":"A-1"}') =>
  new Request('https://api.example.com/v1/orders?a=1', { method: 'POST', headers: { 'content-type': 'application/json' }, body })
const sign = (req: Request, o: { now?: number; keyId?: string; expiresInMs?: number } = {}) =>
  signRequest(req, { keyId: o.keyId ?? keyId, secret, now: () => o.now ?? T0, ...(o.expiresInMs ? { expiresInMs: o.expiresInMs } : {}) })
function withHeaders(req: Request, patch: Record<string, string>, body: BodyInit | null = req.body): Request {
  const h = new Headers(req.headers)
  for (const [k, v] of Object.entries(patch)) h.set(k, v)
  return new Request(req.url, { method: req.method, headers: h, body, duplex: 'half' } as RequestInit)
}
/** A signed request whose body stream never ends, or fails, after its first chunk. */
async function streamed(end: 'hang' | 'fail'): Promise<Request> {
  const signed = await sign(post())
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode('{"sku"'))
      if (end === 'fail') c.error(new Error('client went away'))
    },
  })
  return withHeaders(signed, {}, body)
}
const twice = async (o: VerifyOptions) => {
  await verify(await sign(post()), o)
  return verify(await sign(post()), o)
}

/** How to draw each code from verify(); a string: not verify()'s to give, and why. */
const CASES: Record<string, (() => Promise<unknown>) | string> = {
  SIGNATURE_MISSING: async () => verify(post(), options()),
  SIGNATURE_MALFORMED: async () => verify(withHeaders(await sign(post()), { signature: 'sig1=:!!!' }), options()),
  PROFILE_VIOLATION: async () => {
    const s = await sign(post())
    return verify(withHeaders(s, { 'signature-input': (s.headers.get('signature-input') as string).replace('"@query" ', '') }), options())
  },
  CLOCK_SKEW: async () => verify(await sign(post(), { now: T0 - 600_000 }), options()),
  SIGNATURE_EXPIRED: async () => verify(await sign(post(), { now: T0 - 100_000, expiresInMs: 60_000 }), options()),
  KEY_UNKNOWN: async () => verify(await sign(post(), { keyId: 'kSomeoneElse1' }), options()),
  KEY_REVOKED: async () => verify(await sign(post()), options({}, record({ status: 'revoked' }))),
  KEY_EXPIRED: async () => verify(await sign(post()), options({}, record({ expiresAt: new Date(T0) }))),
  SIGNATURE_INVALID: async () => verify(withHeaders(await sign(post()), { 'content-type': 'text/plain' }), options()),
  NONCE_REPLAYED: async () => {
    const o = options()
    const s = await sign(post())
    await verify(s.clone(), o)
    return verify(s, o)
  },
  // Signed as bodyless, then announced with a body: the signature covers no content-digest.
  DIGEST_MISSING: async () =>
    verify(withHeaders(await sign(new Request('https://api.example.com/v1/orders?a=1')), { 'content-length': '3' }), options()),
  DIGEST_MISMATCH: async () => {
    const s = await sign(post())
    return verify(new Request(s.url, { method: 'POST', headers: s.headers, body: '{"sku":"B-2"}' }), options())
  },
  BODY_TOO_LARGE: async () => verify(await sign(post('x'.repeat(2048))), options({ maxBodyBytes: 1024 })),
  BODY_TIMEOUT: async () => verify(await streamed('hang'), options({ bodyTimeoutMs: 50 })),
  BODY_INCOMPLETE: async () => verify(await streamed('fail'), options()),
  CONTENT_ENCODING_UNSUPPORTED:
    'an adapter that hands over a body its framework already decoded says so (express); verify() reads the bytes it is given',
  SCOPE_DENIED: async () => verify(await sign(post()), options({ requiredScopes: ['orders:write'] })),
  RATE_LIMITED: async () => twice(options({ rateLimiter: createMemoryRateLimiter({ rate: { points: 1, windowMs: 60_000 } }) })),
  QUOTA_EXCEEDED: async () => twice(options({ rateLimiter: createMemoryRateLimiter({ quota: { points: 1, periodMs: 86_400_000 } }) })),
  STORE_UNAVAILABLE: async () =>
    verify(await sign(post()), options({ keys: { get: () => Promise.reject(new Error('down')) }, onError: () => {} })),
  NONCE_STORE_RESET: async () =>
    verify(
      await sign(post()),
      options({
        nonceStore: {
          checkAndSet: () => {
            throw new VerificationError('NONCE_STORE_RESET', 'the store lost its records')
          },
        },
      }),
    ),
  // A key record whose limits no release can use (a resolver of its own, not a store that converts).
  KEY_RECORD_INVALID: async () =>
    verify(
      await sign(post()),
      options({ rateLimiter: createMemoryRateLimiter() }, record({ rateLimits: { rate: { points: 1, windowSeconds: 60 } } as never })),
    ),
  ENCRYPTION_REQUIRED: async () => verify(await sign(post()), options({ encryptedBodies: 'required' })),
  // Signed by a key holder over bytes that are not an aes128gcm body for this key (the digest matches).
  BODY_DECRYPTION_FAILED: async () => {
    const coded = new Request('https://api.example.com/v1/orders?a=1', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'aes128gcm' },
      body: new Uint8Array(64),
    })
    const s = await signRequest(coded, { keyId, secret, now: () => T0, components: ['content-encoding'] })
    return verify(s, options({ encryptedBodies: 'allowed' }))
  },
  TEST_KEY_REFUSED: async () => verify(await sign(post()), options({ testKeys: false }, record({ test: true }))),
}

describe('every rejection code of SPEC §3, through verify()', () => {
  it('reads the failures table', () => {
    expect(rows.length).toBeGreaterThan(15)
    expect(Object.keys(CASES).sort()).toEqual(rows.map((r) => r.code).sort())
  })

  for (const { code, status } of rows) {
    const run = CASES[code]
    if (typeof run !== 'function') continue
    it(`${code} (${status})`, async () => {
      const e = await run().then(
        () => undefined,
        (err: unknown) => err,
      )
      expect(e).toBeInstanceOf(VerificationError)
      expect(e).toMatchObject({ code, status })
      expect(statusOf(code as VerificationError['code'])).toBe(status)
    })
  }
})

// One table-driven suite every framework adapter must pass (SPEC §2, issue 3): the same app,
// the same signed requests, the same codes, over a real socket and the framework's inject helper.
import { contentDigest } from '@sigil/core'
import { decryptBytes, deriveEncryptionKey, RESPONSE_TAG, splitTarget, verifyResponseMessage } from '@sigil/core/internal'
import { createMemoryRateLimiter } from '@sigil/server/rate-limit'
import { afterEach, describe, expect, it } from 'vitest'
import type { Harness } from './apps.js'
import { AUTHORITY, baseOptions, json, keyId, type Reply, secret, sendPartial, signed, type Transport, type Wire } from './fixtures.js'

const url = (path: string, authority = AUTHORITY) => `http://${authority}${path}`
const order = { sku: 'A-1', qty: 2, note: 'ünïcödé' }

type Tamper = (w: Wire) => Wire
const cases: Array<{ name: string; make: () => Promise<Wire>; status: number; code: string; streamsBody?: true }> = [
  {
    name: 'tampered body',
    make: async () => {
      const w = await signed('POST', url('/v1/orders'), json(order))
      return { ...w, body: JSON.stringify({ ...order, qty: 9 }) }
    },
    status: 401,
    code: 'DIGEST_MISMATCH',
  },
  {
    name: 'tampered path',
    make: async () => ({ ...(await signed('POST', url('/v1/admin'), json(order))), target: '/v1/orders' }),
    status: 401,
    code: 'SIGNATURE_INVALID',
  },
  {
    name: 'tampered query',
    make: async () => {
      const w = await signed('GET', url('/v1/orders?limit=10'))
      return { ...w, target: '/v1/orders?limit=1000' }
    },
    status: 401,
    code: 'SIGNATURE_INVALID',
  },
  {
    name: 'tampered method',
    make: async () => ({ ...(await signed('POST', url('/v1/orders'), json(order))), method: 'PUT' }),
    status: 401,
    code: 'SIGNATURE_INVALID',
  },
  {
    name: 'tampered authority',
    make: async () => withHeaders({ host: 'evil.test' })(await signed('GET', url('/v1/orders'))),
    status: 401,
    code: 'SIGNATURE_INVALID',
  },
  {
    name: 'mounted router signed for the stripped path',
    make: async () => ({ ...(await signed('POST', url('/carts'), json(order))), target: '/v1/shop/carts' }),
    status: 401,
    code: 'SIGNATURE_INVALID',
  },
  {
    name: 'unsigned request',
    make: async () => ({ method: 'GET', target: '/v1/orders', headers: { host: AUTHORITY } }),
    status: 401,
    code: 'SIGNATURE_MISSING',
  },
  {
    name: 'replayed request',
    make: async () => signed('GET', url('/v1/orders')),
    status: 401,
    code: 'NONCE_REPLAYED',
  },
  {
    name: 'clock skew',
    make: async () => signed('GET', url('/v1/orders'), undefined, { now: () => Date.now() - 3_600_000 }),
    status: 401,
    code: 'CLOCK_SKEW',
  },
  {
    name: 'scope denied',
    make: async () => signed('POST', url('/v1/admin'), json(order)),
    status: 403,
    code: 'SCOPE_DENIED',
  },
  {
    name: 'declared body over the limit',
    make: async () => withHeaders({ 'content-length': '100000' })(await signed('POST', url('/v1/orders'), json(order))),
    status: 413,
    code: 'BODY_TOO_LARGE',
    streamsBody: true,
  },
]

function withHeaders(patch: Record<string, string>): Tamper {
  return (w) => ({ ...w, headers: { ...w.headers, ...patch } })
}

function expectProblem(r: Reply, status: number, code: string) {
  expect(r.status).toBe(status)
  expect(r.headers.get('content-type')).toContain('application/problem+json')
  expect(r.json.code).toBe(code)
  if (status === 401) expect(r.headers.get('www-authenticate')).toMatch(/^Signature/)
}

/** Run the adapter suite against one framework harness, over each transport it supports. */
export function adapterSuite(h: Harness): void {
  for (const via of h.transports) {
    describe(`${h.name} via ${via}`, () => {
      let t: Transport | undefined
      const start = async (over = {}) => {
        t = await h.start(baseOptions(over), via)
        return t
      }
      afterEach(async () => {
        await t?.close()
        t = undefined
      })

      it('accepts a signed JSON request; the framework still parses the body', async () => {
        const { send } = await start()
        const r = await send(await signed('POST', url('/v1/orders?b=2&a=1'), json(order)))
        expect(r.status).toBe(200)
        expect(r.json).toMatchObject({ principal: 'partner-a', body: order, query: '?b=2&a=1' })
        expect(r.json.bytes).toBe(Buffer.byteLength(JSON.stringify(order)))
      })

      it('accepts a signed urlencoded form; the framework still parses it', async () => {
        const { send } = await start()
        const r = await send(await signed('POST', url('/v1/form'), { type: 'application/x-www-form-urlencoded', text: 'a=1&b=two' }))
        expect(r.status).toBe(200)
        expect(r.json.body).toEqual({ a: '1', b: 'two' })
      })

      it('accepts a GET with a raw query, signed as sent', async () => {
        const { send } = await start()
        const r = await send(await signed('GET', url('/v1/orders?q=a%20b&z=1&a=%2F')))
        expect(r.status).toBe(200)
        expect(r.json).toMatchObject({ principal: 'partner-a', query: '?q=a%20b&z=1&a=%2F' })
      })

      it('signs the original URL in a mounted router', async () => {
        const { send } = await start()
        const r = await send(await signed('POST', url('/v1/shop/carts'), json(order)))
        expect(r.status).toBe(200)
        expect(r.json).toMatchObject({ principal: 'partner-a', body: order })
      })

      it('lets exempt routes through unsigned', async () => {
        const { send } = await start()
        const r = await send({ method: 'GET', target: '/healthz', headers: { host: AUTHORITY } })
        expect(r.status).toBe(200)
        expect(r.json).toEqual({ ok: true })
      })

      // With the body parsers first (express.json() before sigil()), the parser reads the body and
      // its own `limit` governs size: the oversized cases are only meaningful when sigil() reads it.
      for (const c of cases.filter((c) => !(c.streamsBody && h.parsersFirst))) {
        it(`rejects: ${c.name} → ${c.status} ${c.code}`, async () => {
          const { send } = await start()
          const w = await c.make()
          if (c.code === 'NONCE_REPLAYED') expect((await send(w)).status).toBe(200)
          const r = await send(w)
          expectProblem(r, c.status, c.code)
          if (c.code === 'CLOCK_SKEW') expect(Number.isFinite(Date.parse(r.headers.get('date') ?? ''))).toBe(true)
        })
      }

      it('checks the public authority behind a proxy, not the Host it sees', async () => {
        const { send } = await start({ authority: 'api.example.com' })
        const w = withHeaders({ host: '10.0.0.7:8080' })(await signed('GET', url('/v1/orders', 'api.example.com')))
        expect((await send(w)).status).toBe(200)
      })

      it('ignores forwarding headers unless trustProxy is set', async () => {
        const forwarded = async () =>
          withHeaders({ host: '10.0.0.7:8080', 'x-forwarded-host': 'api.example.com', 'x-forwarded-proto': 'https' })(
            await signed('GET', url('/v1/orders', 'api.example.com')),
          )
        const off = await start()
        expectProblem(await off.send(await forwarded()), 401, 'SIGNATURE_INVALID')
        await off.close()
        const on = await start({ trustProxy: true })
        expect((await on.send(await forwarded())).status).toBe(200)
      })

      it('answers 429 with Retry-After when the key is over its rate', async () => {
        const { send } = await start({ rateLimiter: createMemoryRateLimiter({ rate: { points: 1, windowMs: 60_000 } }) })
        expect((await send(await signed('GET', url('/v1/orders')))).status).toBe(200)
        const r = await send(await signed('GET', url('/v1/orders')))
        expectProblem(r, 429, 'RATE_LIMITED')
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0)
      })

      it('signs responses to verified requests when signResponses is on (SPEC §5)', async () => {
        const { send } = await start({ signResponses: true })
        const w = await signed('POST', url('/v1/orders'), json(order))
        const r = await send(w)
        expect(r.status).toBe(200)
        expect(r.headers.get('content-digest')).toBe(contentDigest(r.text))
        const request = {
          method: w.method,
          scheme: 'http',
          authority: AUTHORITY,
          ...splitTarget(w.target),
          headers: new Headers(w.headers),
        }
        const entry = await verifyResponseMessage(
          { status: r.status, headers: r.headers, request },
          { keyId, secret, requestLabel: 'sig1', tag: RESPONSE_TAG },
        )
        expect(entry.params.tag).toBe(RESPONSE_TAG)
        const health = await send({ method: 'GET', target: '/healthz', headers: { host: AUTHORITY } })
        expect(health.headers.get('signature')).toBeNull()
      })

      it('hands the framework the plaintext of an aes128gcm body with encryptedBodies (SPEC §8)', async () => {
        const { send } = await start({ encryptedBodies: 'allowed' })
        const w = await signed('POST', url('/v1/orders'), json(order), { encryptBody: true })
        expect(Buffer.from(w.body as Buffer).toString()).not.toContain('A-1')
        const r = await send(w)
        if (h.parsersFirst) {
          // A parser before sigil() decodes or refuses a coded body first: the SPEC §2 step 7 rule.
          expect(r.status).toBe(415)
          return
        }
        expect(r.status).toBe(200)
        expect(r.json).toMatchObject({ principal: 'partner-a', body: order })
        expect(r.json.bytes).toBe(Buffer.byteLength(JSON.stringify(order)))
      })

      it("refuses a plaintext body with encryptedBodies: 'required' (415 ENCRYPTION_REQUIRED)", async () => {
        const { send } = await start({ encryptedBodies: 'required' })
        const r = await send(await signed('POST', url('/v1/orders'), json(order)))
        expectProblem(r, 415, 'ENCRYPTION_REQUIRED')
        expect(r.headers.get('accept-encoding')).toBe('aes128gcm')
      })

      it('encrypts the signed answer for the key with signResponses: { encryptResponses: true } (SPEC §8)', async () => {
        const { send } = await start({ encryptedBodies: 'allowed', signResponses: { encryptResponses: true } })
        const w = await signed('GET', url('/v1/orders'), undefined, { encryptBody: true })
        const r = await send(w)
        expect(r.status).toBe(200)
        expect(r.headers.get('content-encoding')).toBe('aes128gcm')
        const sealed = r.bytes as Uint8Array
        expect(r.headers.get('content-digest')).toBe(contentDigest(sealed))
        const key = await deriveEncryptionKey(secret, keyId)
        const plain = JSON.parse(Buffer.from(await decryptBytes(sealed, { key: (id) => (id === keyId ? key : undefined) })).toString())
        expect(plain).toMatchObject({ principal: 'partner-a' })
      })

      if (via === 'listen' && !h.parsersFirst) {
        it('answers 413 on a declared oversized body without reading it', async () => {
          const { port } = await start()
          const w = withHeaders({ 'content-length': String(10 * 1024 * 1024) })(await signed('POST', url('/v1/orders'), json(order)))
          expect(await sendPartial(port as number, w, 'x'.repeat(100))).toBe(413)
        })

        it('answers 413 on an oversized chunked body once the limit is passed', async () => {
          const { port } = await start()
          const w = await signed('POST', url('/v1/orders'), json(order))
          const { 'content-length': _, ...headers } = w.headers
          expect(await sendPartial(port as number, { ...w, headers }, 'x'.repeat(8192), true)).toBe(413)
        })
      }
    })
  }
}

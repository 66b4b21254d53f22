// Presigned URLs (docs/spec.md §7) end to end: presignUrl → a real server on 127.0.0.1 through
// every adapter, and verify(Request) for the clock-sensitive cases.
import { createServer } from 'node:http'
import { presignUrl } from '@sigil/client'
import { contentDigest } from '@sigil/core'
import { type Verified, type VerifyOptions, verify } from '@sigil/server'
import { withSigil } from '@sigil/server/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expressHarness, fastifyHarness, type Harness, honoHarness } from '../adapters/apps.js'
import { AUTHORITY, baseOptions, keyId, listening, secret, type Transport, type Wire } from '../adapters/fixtures.js'
import { outcomeOf } from '../helpers/outcome.js'

const creds = { keyId, secret }
const base = `http://${AUTHORITY}`

/** The wire form of a link: its raw target, Host from the link. */
function wire(link: string, method = 'GET', body?: string): Wire {
  const u = new URL(link)
  const target = link.slice(link.indexOf(u.host) + u.host.length)
  const headers: Record<string, string> = { host: u.host }
  if (body !== undefined) {
    headers['content-type'] = 'application/json'
    headers['content-length'] = String(Buffer.byteLength(body))
  }
  return { method, target, headers, ...(body !== undefined ? { body } : {}) }
}

const nodeHarness: Harness = {
  name: 'node:http withSigil',
  transports: ['listen'],
  start: async (options) => {
    // withSigil's verify options have no adapter options (exempt is its third argument).
    const { exempt: _, ...verifyOptions } = options as VerifyOptions & { exempt?: unknown }
    return listening(
      createServer(
        withSigil(verifyOptions, (_req, res, verified) => {
          const v = verified as Verified
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ principal: v.principal, presigned: v.presigned ?? false, bytes: v.body?.byteLength ?? null }))
        }),
      ),
    )
  },
}

const harnesses = [expressHarness(5, 'before'), expressHarness(4, 'after'), fastifyHarness, honoHarness, nodeHarness]

for (const h of harnesses) {
  describe(`presigned URLs through ${h.name}`, () => {
    let on: Transport
    let off: Transport
    beforeAll(async () => {
      on = await h.start(baseOptions({ presigned: true }), 'listen')
      off = await h.start(baseOptions(), 'listen')
    })
    afterAll(async () => {
      await on.close()
      await off.close()
    })
    const code = async (t: Transport, w: Wire) => {
      const r = await t.send(w)
      return r.status === 200 ? 200 : `${r.status} ${r.json?.code}`
    }

    it('accepts a link more than once, and HEAD for a GET link', async () => {
      const link = await presignUrl(`${base}/v1/orders?limit=10&b=%20x`, creds)
      const first = await on.send(wire(link))
      expect(first.status).toBe(200)
      expect(first.json.principal).toBe('partner-a')
      expect(await code(on, wire(link))).toBe(200)
      expect((await on.send(wire(link, 'HEAD'))).status).toBe(200)
    })

    it('ignores a URL signature where presigned URLs are not enabled', async () => {
      const link = await presignUrl(`${base}/v1/orders`, creds)
      expect(await code(off, wire(link))).toBe('401 SIGNATURE_MISSING')
    })

    it.each([
      ['path', (l: string) => l.replace('/v1/orders', '/v1/orderz')],
      ['another query parameter', (l: string) => l.replace('limit=10', 'limit=1000')],
      ['an added parameter', (l: string) => l.replace('?limit=10', '?limit=10&admin=1')],
      ['an expiry', (l: string) => l.replace(/expires%3D(\d+)/, (_m, n) => `expires%3D${Number(n) + 3600}`)],
    ])('refuses an edited %s', async (_n, edit) => {
      const link = await presignUrl(`${base}/v1/orders?limit=10`, creds)
      const edited = edit(link)
      expect(edited).not.toBe(link)
      expect(await code(on, wire(edited))).toBe('401 SIGNATURE_INVALID')
    })

    it('refuses another method or host', async () => {
      const link = await presignUrl(`${base}/v1/orders`, creds)
      expect(await code(on, wire(link, 'PUT', '{}'))).toBe('401 SIGNATURE_INVALID')
      // A link for another host, sent to this one.
      const other = wire(await presignUrl(`http://other.test/v1/orders`, creds))
      other.headers.host = AUTHORITY
      expect(await code(on, other)).toBe('401 SIGNATURE_INVALID')
    })

    it('refuses duplicated, moved or header-borne signatures', async () => {
      const link = await presignUrl(`${base}/v1/orders`, creds)
      const u = new URL(link)
      const input = u.searchParams.get('sigil-input') ?? ''
      const sig = u.searchParams.get('sigil') ?? ''
      const enc = encodeURIComponent
      expect(await code(on, wire(`${link}&sigil=${enc(sig)}`))).toBe('401 SIGNATURE_MALFORMED')
      expect(await code(on, wire(`${base}/v1/orders?sigil=${enc(sig)}&sigil-input=${enc(input)}`))).toBe('401 SIGNATURE_MALFORMED')
      expect(await code(on, wire(`${base}/v1/orders?sigil-input=${enc(input)}&sigil=${enc(sig)}&x=1`))).toBe('401 SIGNATURE_MALFORMED')
      // The link's signature moved into headers is not a header signature.
      const asHeaders = wire(`${base}/v1/orders`)
      asHeaders.headers['signature-input'] = input
      asHeaders.headers.signature = sig
      expect(await code(on, asHeaders)).toBe('401 SIGNATURE_MISSING')
      expect(await code(off, asHeaders)).toBe('401 SIGNATURE_MISSING')
    })

    it('holds an upload link to its size and digest', async () => {
      const good = JSON.stringify({ sku: 'A-1' })
      const sized = await presignUrl(`${base}/v1/orders`, { ...creds, method: 'PUT', maxBytes: Buffer.byteLength(good) })
      expect(await code(on, wire(sized, 'PUT', good))).toBe(200)
      expect(await code(on, wire(sized, 'PUT', `${good} `))).toBe('413 BODY_TOO_LARGE')
      const pinned = await presignUrl(`${base}/v1/orders`, {
        ...creds,
        method: 'PUT',
        contentDigest: contentDigest(new TextEncoder().encode(good)),
      })
      expect(await code(on, wire(pinned, 'PUT', good))).toBe(200)
      expect(await code(on, wire(pinned, 'PUT', JSON.stringify({ sku: 'B-2' })))).toBe('401 DIGEST_MISMATCH')
    })

    it('refuses bytes sent with a link that is not an upload link', async () => {
      const link = await presignUrl(`${base}/v1/orders`, creds)
      const withBody = wire(link, 'GET', '{"sku":"A-1"}')
      expect(await code(on, withBody)).toBe('401 DIGEST_MISSING')
      const del = await presignUrl(`${base}/v1/orders`, { ...creds, method: 'DELETE' })
      expect(await code(on, wire(del, 'DELETE', '{}'))).toBe('401 DIGEST_MISSING')
    })

    it('records the nonce of a single-use link', async () => {
      const link = await presignUrl(`${base}/v1/orders`, { ...creds, singleUse: true })
      expect(await code(on, wire(link))).toBe(200)
      expect(await code(on, wire(link))).toBe('401 NONCE_REPLAYED')
    })
  })
}

describe('presigned URLs through verify(Request)', () => {
  const t0 = 1_800_000_000_000
  let clock = t0
  const revoked = new Set<string>()
  const options = {
    keys: {
      get: (id: string) =>
        id === keyId
          ? {
              keyId,
              secret,
              principal: 'partner-a',
              scopes: ['files:read'],
              status: revoked.has(id) ? ('revoked' as const) : ('active' as const),
              createdAt: new Date(0),
            }
          : undefined,
    },
    presigned: { maxLifetimeMs: 3_600_000 },
    now: () => clock,
  }
  const check = (link: string, method = 'GET') => outcomeOf(verify(new Request(link, { method }), options))

  it('works until expires and not after (SIGNATURE_EXPIRED)', async () => {
    clock = t0
    const link = await presignUrl(`${base}/f`, { ...creds, expiresInMs: 600_000, now: () => t0 })
    expect(await check(link)).toBe('accepted')
    clock = t0 + 599_000
    expect(await check(link)).toBe('accepted')
    clock = t0 + 600_000
    expect(await check(link)).toBe('SIGNATURE_EXPIRED')
  })

  it('refuses a link from the future and a lifetime over the route bound', async () => {
    clock = t0
    const ahead = await presignUrl(`${base}/f`, { ...creds, now: () => t0 + 301_000 })
    expect(await check(ahead)).toBe('CLOCK_SKEW')
    const long = await presignUrl(`${base}/f`, { ...creds, expiresInMs: 7_200_000, now: () => t0 })
    expect(await check(long)).toBe('PROFILE_VIOLATION')
  })

  it('fails once the key is revoked, and checks scopes like a header signature', async () => {
    clock = t0
    const link = await presignUrl(`${base}/f`, { ...creds, now: () => t0 })
    expect(await outcomeOf(verify(new Request(link), options, { requiredScopes: ['files:write'] }))).toBe('SCOPE_DENIED')
    revoked.add(keyId)
    expect(await check(link)).toBe('KEY_REVOKED')
    revoked.delete(keyId)
  })

  it('refuses the presigned tag as a header-signature tag', () => {
    expect(() => verify(new Request(`${base}/f`), { keys: {}, tag: 'sigil-url' })).toThrow(/invalid verify options/)
  })
})

// Client → msw → verify(): createSignedFetch against handlers wrapped by @sigil/server/msw.

import { openAsBlob } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSignedFetch, signRequest } from '@sigil/client'
import { randomBytes, toBase64Url } from '@sigil/core/internal'
import { createMemoryNonceStore, type VerifyOptions } from '@sigil/server'
import { withSigil } from '@sigil/server/msw'
import { HttpResponse, http } from 'msw'
import { setupServer } from 'msw/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const secret = randomBytes(32)
const keyId = 'kMswClient001'
let serverClockOffset = 0
let redirectedHits = 0
const options: VerifyOptions = {
  keys: { [keyId]: secret },
  now: () => Date.now() + serverClockOffset,
  nonceStore: createMemoryNonceStore(),
}

const api = 'https://api.example.com'
const server = setupServer(
  http.post(
    `${api}/v1/orders`,
    withSigil(options, async ({ request, sigil }) =>
      HttpResponse.json({ principal: sigil.principal, echo: await request.text() }, { status: 201 }),
    ),
  ),
  http.get(
    `${api}/v1/orders/:id`,
    withSigil(options, ({ params, sigil }) => HttpResponse.json({ id: params.id, by: sigil.keyId })),
  ),
  http.get(`${api}/v1/old`, () => new HttpResponse(null, { status: 302, headers: { location: `${api}/v1/new` } })),
  http.get(`${api}/v1/new`, () => {
    redirectedHits++
    return HttpResponse.json({ reached: true })
  }),
  http.put(
    `${api}/v1/files/:name`,
    withSigil({ ...options, maxBodyBytes: 64 * 1024 * 1024, retainBody: false }, ({ sigil }) =>
      HttpResponse.json({ ok: true, by: sigil.keyId }),
    ),
  ),
)
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterAll(() => server.close())

describe('createSignedFetch → msw → verify()', () => {
  const signed = createSignedFetch({ keyId, secret })

  it('signs a JSON POST; the handler still reads the body', async () => {
    const res = await signed(`${api}/v1/orders?b=2&a=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"sku":"A-1"}',
    })
    expect(res.status).toBe(201)
    expect(await res.json()).toEqual({ principal: keyId, echo: '{"sku":"A-1"}' })
  })

  it('signs a GET with percent-encoded path and repeated query keys', async () => {
    const res = await signed(`${api}/v1/orders/a%20b?x=1&x=2&y=%2F`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ id: 'a b', by: keyId })
  })

  it('accepts a Request object and a token credential', async () => {
    const { formatToken } = await import('@sigil/core')
    const viaToken = createSignedFetch({ token: formatToken(keyId, secret) })
    const res = await viaToken(new Request(`${api}/v1/orders`, { method: 'POST', body: new Uint8Array([0, 1, 2, 255]) }))
    expect(res.status).toBe(201)
  })

  it('streams a Blob (fs.openAsBlob) and a body factory without buffering them', async () => {
    const path = join(tmpdir(), `sigil-e2e-${process.pid}.bin`)
    await writeFile(path, randomBytes(1024 * 1024))
    const res = await signed(`${api}/v1/files/a.bin`, { method: 'PUT', body: await openAsBlob(path) })
    expect(res.status).toBe(200)
    const chunks = [new TextEncoder().encode('part one, '), new TextEncoder().encode('part two')]
    const factory = () =>
      (async function* () {
        yield* chunks
      })()
    const res2 = await signed(`${api}/v1/files/b.txt`, { method: 'PUT', body: factory as unknown as BodyInit })
    expect(res2.status).toBe(200)
  })

  it('refuses a one-shot stream body unless asked to buffer it', async () => {
    const stream = () =>
      new ReadableStream({
        start: (c) => {
          c.enqueue(new Uint8Array([1, 2, 3]))
          c.close()
        },
      })
    await expect(signed(`${api}/v1/files/c`, { method: 'PUT', body: stream(), duplex: 'half' } as RequestInit)).rejects.toMatchObject({
      code: 'CONFIGURATION_INVALID',
    })
    const buffering = createSignedFetch({ keyId, secret, bufferStreams: true })
    const res = await buffering(`${api}/v1/files/c`, { method: 'PUT', body: stream(), duplex: 'half' } as RequestInit)
    expect(res.status).toBe(200)
  })

  it('recovers from clock skew using the server Date, then keeps the corrected clock', async () => {
    serverClockOffset = 15 * 60_000
    const seen: number[] = []
    const spy = createSignedFetch({
      keyId,
      secret,
      // The skew (15 min) is over the default bound (the server's 5 min window): opt in.
      maxClockCorrectionMs: 20 * 60_000,
      fetch: async (url, init) => {
        const res = await fetch(url, init)
        seen.push(res.status)
        return res
      },
    })
    try {
      const first = await spy(`${api}/v1/orders/1`)
      expect(first.status).toBe(200)
      expect(seen).toEqual([401, 200])
      await spy(`${api}/v1/orders/2`)
      expect(seen).toEqual([401, 200, 200])
    } finally {
      serverClockOffset = 0
    }
  })

  it('by default never corrects by more than the server window from an unsigned 401', async () => {
    serverClockOffset = 15 * 60_000
    const seen: number[] = []
    const spy = createSignedFetch({
      keyId,
      secret,
      fetch: async (url, init) => {
        seen.push(1)
        return fetch(url, init)
      },
    })
    try {
      const res = await spy(`${api}/v1/orders/1`)
      expect(res.status).toBe(401)
      expect(await res.json()).toMatchObject({ code: 'CLOCK_SKEW' })
      expect(seen).toHaveLength(1)
    } finally {
      serverClockOffset = 0
    }
  })

  it('does not retry other rejections, and surfaces the problem code', async () => {
    const wrong = createSignedFetch({ keyId, secret: toBase64Url(randomBytes(32)) })
    const res = await wrong(`${api}/v1/orders/1`)
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ code: 'SIGNATURE_INVALID' })
  })

  it('does not follow redirects with a signed request unless asked to', async () => {
    const res = await signed(`${api}/v1/old`)
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe(`${api}/v1/new`)
    expect(redirectedHits).toBe(0)
    const followed = await signed(`${api}/v1/old`, { redirect: 'follow' })
    expect(followed.status).toBe(200)
    expect(redirectedHits).toBe(1)
  })

  it('signRequest leaves the caller request and its body untouched', async () => {
    const original = new Request(`${api}/v1/orders`, { method: 'POST', body: 'keep me' })
    const s = await signRequest(original, { keyId, secret })
    expect(original.bodyUsed).toBe(false)
    expect(await original.text()).toBe('keep me')
    expect(s.headers.get('signature-input')).toContain('"content-digest"')
  })

  it('a signature is never reused: two sends of the same call carry different nonces', async () => {
    const nonces: string[] = []
    const spy = createSignedFetch({
      keyId,
      secret,
      fetch: async (url, init) => {
        nonces.push(/nonce="([^"]+)"/.exec(init.headers.get('signature-input')!)![1]!)
        return fetch(url, init)
      },
    })
    await spy(`${api}/v1/orders/1`)
    await spy(`${api}/v1/orders/1`)
    expect(new Set(nonces).size).toBe(2)
  })
})

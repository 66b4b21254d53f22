// Retries and redirects against a real node:http server (issue 17 items 6 and 8): every attempt
// and every same-origin hop carries a fresh signature; no signature header ever reaches another
// origin.
import { createSignedFetch, signRequest } from '@sigil/client'
import { responseVerifier } from '@sigil/client/responses'
import { createSigningInterceptor } from '@sigil/client/undici'
import { Agent, type Dispatcher, interceptors, RetryAgent, request, fetch as undiciFetch } from 'undici'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type Echo, type RealServer, startApi, startRecorder } from './real-server.js'

let api: RealServer
let other: Awaited<ReturnType<typeof startRecorder>>
beforeAll(async () => {
  other = await startRecorder()
  api = await startApi({}, () => other.origin)
})
afterAll(async () => {
  await api.close()
  await other.close()
})
beforeEach(() => {
  api.hits.length = 0
  other.hits.length = 0
})

const creds = () => ({ keyId: api.keyId, secret: api.secret })
const retry = () => interceptors.retry({ minTimeout: 5, maxTimeout: 20, maxRetries: 2, statusCodes: [503], methods: ['PUT', 'POST'] })
let n = 0
const id = () => `r${++n}`

describe('undici retries are re-signed whatever the compose order', () => {
  const orders = {
    'compose(signing, retry()) — retry outermost': () => new Agent().compose(createSigningInterceptor(creds()), retry()),
    'compose(retry(), signing) — the order the old docs suggested': () => new Agent().compose(retry(), createSigningInterceptor(creds())),
    'RetryAgent(agent.compose(signing))': () =>
      new RetryAgent(new Agent().compose(createSigningInterceptor(creds())) as Agent, {
        minTimeout: 5,
        maxRetries: 2,
        statusCodes: [503],
        methods: ['PUT'],
      }),
  }
  for (const [name, make] of Object.entries(orders)) {
    it(name, async () => {
      const dispatcher = make()
      const res = await request(`${api.origin}/flaky?id=${id()}`, { method: 'PUT', body: 'same body', dispatcher })
      expect(res.statusCode).toBe(200)
      expect(((await res.body.json()) as Echo).body).toBe('same body')
      // Two attempts reached the server, both verified (the first answered 503 after its nonce was spent).
      expect(api.hits.map((h) => h.signed)).toEqual([true, true])
      await dispatcher.close()
    })
  }
})

describe('an inner interceptor that reads the signed headers in another order', () => {
  it('still sends a matching Signature / Signature-Input pair, fresh on each read', async () => {
    // Reads every header sorted ("signature" before "signature-input"), twice, then dispatches a copy.
    const sorting: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
      const h = opts.headers as Record<string, string>
      const copy = () =>
        Object.fromEntries(
          Object.keys(h)
            .sort()
            .map((k) => [k, h[k]]),
        )
      const first = copy()
      const second = copy()
      expect(second.signature).not.toBe(first.signature)
      return dispatch({ ...opts, headers: second }, handler)
    }
    const dispatcher = new Agent().compose(sorting, createSigningInterceptor(creds()))
    const res = await request(`${api.origin}/echo`, { method: 'POST', body: 'z', dispatcher })
    expect(res.statusCode).toBe(200)
    await res.body.dump()
    await dispatcher.close()
  })
})

describe('retries with response verification', () => {
  for (const [name, make] of Object.entries({
    'compose(signing, retry())': () => new Agent().compose(createSigningInterceptor({ ...creds(), verifyResponses: true }), retry()),
    'compose(retry(), signing)': () => new Agent().compose(retry(), createSigningInterceptor({ ...creds(), verifyResponses: true })),
  })) {
    it(`${name}: the answer to the retried attempt verifies against that attempt's signature`, async () => {
      const dispatcher = make()
      const res = await request(`${api.origin}/flaky?id=${id()}&encoding=gzip`, { method: 'PUT', body: 'v', dispatcher })
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-encoding']).toBe('gzip')
      await res.body.dump()
      expect(api.hits).toHaveLength(2)
      await dispatcher.close()
    })
  }

  it('createSignedFetch verifies every hop it follows', async () => {
    const f = createSignedFetch({ ...creds(), verifyResponses: responseVerifier() })
    const res = await f(`${api.origin}/redirect?to=/echo/v`, { method: 'PUT', body: 'q', redirect: 'follow' })
    expect(await res.json()).toMatchObject({ url: '/echo/v', body: 'q' })
  })
})

describe('createSignedFetch follows redirects only when asked, re-signing per hop', () => {
  const f = () => createSignedFetch(creds())

  it('does not follow by default: the 3xx comes back', async () => {
    const res = await f()(`${api.origin}/redirect?to=/echo`, { method: 'POST', body: 'x' })
    expect(res.status).toBe(307)
    expect(api.hits).toHaveLength(1)
  })

  it("redirect: 'follow' re-signs a same-origin 307 and resends the body (string, Blob)", async () => {
    for (const body of ['a string body', new Blob(['a blob body'])]) {
      const res = await f()(`${api.origin}/redirect?to=${encodeURIComponent('/echo/next%3F?q=1')}`, {
        method: 'post',
        body,
        redirect: 'follow',
      })
      expect(res.status).toBe(200)
      const echo = (await res.json()) as Echo
      expect(echo).toMatchObject({ method: 'POST', url: '/echo/next%3F?q=1' })
      expect(echo.body).toMatch(/^a (string|blob) body$/)
    }
  })

  it('303 (and 302 after POST) turns into a body-less GET, as fetch does', async () => {
    for (const status of [303, 302]) {
      const res = await f()(`${api.origin}/redirect?status=${status}&to=/echo`, { method: 'POST', body: 'x', redirect: 'follow' })
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ method: 'GET', length: 0, contentType: null })
    }
  })

  it('never takes a signature to another origin: the 3xx comes back unless crossOrigin, and then the hop is unsigned', async () => {
    const stopped = await f()(`${api.origin}/to-other`, { redirect: 'follow' })
    expect(stopped.status).toBe(307)
    expect(other.hits).toHaveLength(0)
    const opted = createSignedFetch({ ...creds(), redirects: { crossOrigin: true } })
    const res = await opted(`${api.origin}/to-other`, { method: 'PUT', body: 'x', redirect: 'follow' })
    expect(res.status).toBe(200)
    expect(other.hits).toEqual([{ method: 'PUT', url: '/landed', signed: false }])
  })

  it("redirect: 'error' rejects on a redirect; a redirect loop stops at maxRedirects", async () => {
    await expect(f()(`${api.origin}/redirect?to=/echo`, { redirect: 'error' })).rejects.toThrow(TypeError)
    const loop = createSignedFetch({ ...creds(), redirects: { maxRedirects: 3 } })
    await expect(loop(`${api.origin}/loop`, { redirect: 'follow' })).rejects.toThrow(/redirects/)
    expect(api.hits.filter((h) => h.url === '/loop')).toHaveLength(4)
    expect(api.hits.every((h) => h.signed)).toBe(true)
  })
})

describe('signRequest', () => {
  it('returns a copy that does not follow redirects, so fetch cannot carry the signature elsewhere', async () => {
    const signed = await signRequest(new Request(`${api.origin}/to-other`), creds())
    expect(signed.redirect).toBe('manual')
    const res = await fetch(signed)
    expect(res.status).toBe(307)
    expect(other.hits).toHaveLength(0)
  })
})

describe('undici redirect interceptor', () => {
  it('composed after the signer: each same-origin hop is signed for where it goes, other origins get no signature', async () => {
    const dispatcher = new Agent().compose(createSigningInterceptor(creds()), interceptors.redirect({ maxRedirections: 3 }))
    const same = await request(`${api.origin}/redirect?to=/echo/hop`, { method: 'PUT', body: 'b', dispatcher })
    expect(same.statusCode).toBe(200)
    expect(await same.body.json()).toMatchObject({ method: 'PUT', url: '/echo/hop', body: 'b' })
    const cross = await request(`${api.origin}/to-other`, { dispatcher })
    expect(cross.statusCode).toBe(200)
    await cross.body.dump()
    expect(other.hits).toEqual([{ method: 'GET', url: '/landed', signed: false }])
    await dispatcher.close()
  })

  it("fetch's own redirect following through a pinned interceptor: same-origin hops re-signed, another origin refused", async () => {
    const dispatcher = new Agent().compose(createSigningInterceptor({ ...creds(), origin: api.origin }))
    const same = await undiciFetch(`${api.origin}/redirect?to=/echo/f`, { dispatcher })
    expect(await same.json()).toMatchObject({ url: '/echo/f' })
    await expect(undiciFetch(`${api.origin}/to-other`, { dispatcher })).rejects.toThrow()
    expect(other.hits).toHaveLength(0)
    await dispatcher.close()
  })

  it('with verifyResponses, a hop to another origin is refused (its answer cannot be verified)', async () => {
    const dispatcher = new Agent().compose(
      createSigningInterceptor({ ...creds(), verifyResponses: true }),
      interceptors.redirect({ maxRedirections: 3 }),
    )
    await expect(request(`${api.origin}/to-other`, { dispatcher })).rejects.toMatchObject({ code: 'RESPONSE_SIGNATURE_MISSING' })
    expect(other.hits).toHaveLength(0)
    const f = createSignedFetch({ ...creds(), verifyResponses: responseVerifier(), redirects: { crossOrigin: true } })
    await expect(f(`${api.origin}/to-other`, { redirect: 'follow' })).rejects.toMatchObject({ code: expect.stringMatching(/^RESPONSE_/) })
    await dispatcher.close()
  })

  it('composed beneath the signer: the hop is stopped before a byte is written', async () => {
    const dispatcher = new Agent().compose(interceptors.redirect({ maxRedirections: 3 }), createSigningInterceptor(creds()))
    await expect(request(`${api.origin}/to-other`, { dispatcher })).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' })
    await expect(request(`${api.origin}/redirect?to=/echo`, { dispatcher })).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' })
    expect(other.hits).toHaveLength(0)
    expect(api.hits.map((h) => h.url)).toEqual(['/to-other', '/redirect?to=/echo'])
    await dispatcher.close()
  })
})

// createSignedFetch keeps fetch's semantics (issue 26 items 1 and 2). Every combination of input
// (a Request carrying a body, or a URL) × init member (absent, present but undefined, null, a value)
// × body type is sent twice: by plain fetch to a recording server, and by the signed fetch to a real
// node:http server running verifyNodeRequest. The two must agree on what went on the wire (method,
// body bytes, content-type, headers), or both refuse; and the signed one must verify. Then the
// signed fetch drives another fetch (npm undici's, node-fetch v3) the way any fetch is called.
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSignedFetch } from '@sigil/client'
import { responseVerifier } from '@sigil/client/responses'
import nodeFetch from 'node-fetch'
import { Agent, fetch as undiciFetch } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Echo, type RealServer, startApi } from './real-server.js'

let api: RealServer
let plain: { origin: string; server: Server }
beforeAll(async () => {
  api = await startApi({ maxBodyBytes: 1024 * 1024 })
  // What plain fetch sends, recorded as the real server echoes it.
  const server = createServer((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (c: Buffer) => parts.push(c))
    req.on('end', () => {
      const body = Buffer.concat(parts)
      res.setHeader('content-type', 'application/json')
      res.end(
        JSON.stringify({
          method: req.method,
          url: req.url,
          contentType: req.headers['content-type'] ?? null,
          body: body.toString('latin1'),
          length: body.length,
          xa: req.headers['x-a'] ?? null,
        }),
      )
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  plain = { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
})
afterAll(async () => {
  await api.close()
  plain.server.closeAllConnections()
  await new Promise((r) => plain.server.close(r))
})

const creds = () => ({ keyId: api.keyId, secret: api.secret })
const TEXT = 'thirteen byte'
const BYTES = new TextEncoder().encode(TEXT)

/** Every fetch body type, made fresh for each send. */
const BODIES: Record<string, () => BodyInit> = {
  string: () => TEXT,
  bytes: () => BYTES.slice(),
  ArrayBuffer: () => BYTES.slice().buffer,
  DataView: () => new DataView(BYTES.slice().buffer),
  Blob: () => new Blob([BYTES], { type: 'application/x-thing' }),
  FormData: () => {
    const fd = new FormData()
    fd.append('a', '1')
    fd.append('f', new Blob(['xyz'], { type: 'text/plain' }), 'f.txt')
    return fd
  },
  URLSearchParams: () => new URLSearchParams({ a: '1', b: "x y'" }),
  ReadableStream: () =>
    new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(BYTES.slice(0, 5))
        c.enqueue(BYTES.slice(5))
        c.close()
      },
    }),
}

type Wire = { ok: true; method: string; body: string; contentType: string | null } | { ok: false; error: string }

/** The multipart boundary is random per serialization: compare the bodies with it named. */
function normalize(e: { method: string; body: string; contentType: string | null }): Wire {
  const boundary = /boundary=(.+)$/.exec(e.contentType ?? '')?.[1]
  const swap = (s: string) => (boundary ? s.split(boundary).join('BOUNDARY') : s)
  return { ok: true, method: e.method, body: swap(e.body), contentType: e.contentType && swap(e.contentType) }
}

type Init = Record<string, unknown> | undefined
type Input = (origin: string) => RequestInfo

async function viaPlain(input: Input, init: Init): Promise<Wire> {
  try {
    const res = await fetch(input(plain.origin), init as RequestInit)
    return normalize((await res.json()) as Echo)
  } catch (e) {
    return { ok: false, error: (e as Error).name }
  }
}

async function viaSigned(input: Input, init: Init): Promise<Wire> {
  const f = createSignedFetch({ ...creds(), bufferStreams: true })
  let res: Response
  try {
    res = await f(input(api.origin), init as RequestInit)
  } catch (e) {
    return { ok: false, error: (e as Error).name }
  }
  // Whatever was sent, it was signed as sent: the server verified it.
  expect(res.status).toBe(200)
  return normalize((await res.json()) as Echo)
}

const requestWith =
  (kind: string, headers?: HeadersInit): Input =>
  (origin) =>
    new Request(`${origin}/echo`, {
      method: 'POST',
      body: (BODIES[kind] as () => BodyInit)(),
      ...(kind === 'ReadableStream' ? { duplex: 'half' } : {}),
      ...(headers ? { headers } : {}),
    } as RequestInit)
const url: Input = (origin) => `${origin}/echo`

describe('a Request input keeps its body when init.body is absent, undefined or null (as fetch does)', () => {
  const inits: Record<string, Init> = {
    'no init': undefined,
    'init {}': {},
    'body: undefined': { body: undefined },
    'body: null': { body: null },
    'body, headers, method, signal all undefined': { body: undefined, headers: undefined, method: undefined, signal: undefined },
    'signal: null': { signal: null },
    'method: PUT': { method: 'PUT' },
    'method: PUT, body: null': { method: 'PUT', body: null },
    'method: GET (a body with GET is a TypeError)': { method: 'GET' },
    'body: replaced': { body: 'other' },
  }
  for (const kind of Object.keys(BODIES)) {
    for (const [name, init] of Object.entries(inits)) {
      it(`Request(${kind}) × ${name}`, async () => {
        const want = await viaPlain(requestWith(kind), init)
        const got = await viaSigned(requestWith(kind), init)
        expect(got).toEqual(want)
        if (want.ok && !('body' in (init ?? {}) && init?.body)) expect(want.body.length).toBeGreaterThan(0)
      })
    }
  }
})

describe('a URL input with init.body absent, undefined, null, or each body type', () => {
  const cases: Record<string, Init> = {
    'no init': undefined,
    'POST, body absent': { method: 'POST' },
    'POST, body: undefined': { method: 'POST', body: undefined },
    'POST, body: null': { method: 'POST', body: null },
    'GET, body: null': { method: 'GET', body: null },
    'GET, body: undefined': { method: 'GET', body: undefined },
    'GET with a body (TypeError)': { method: 'GET', body: 'x' },
  }
  for (const kind of Object.keys(BODIES)) {
    cases[`POST, body: ${kind}`] = { method: 'POST', body: kind, ...(kind === 'ReadableStream' ? { duplex: 'half' } : {}) }
  }
  for (const [name, init] of Object.entries(cases)) {
    it(name, async () => {
      // Body types are named in the table and made fresh for each of the two sends.
      const fresh = (): Init =>
        init && typeof init.body === 'string' && init.body in BODIES ? { ...init, body: BODIES[init.body]?.() } : init
      const want = await viaPlain(url, fresh())
      const got = await viaSigned(url, fresh())
      expect(got).toEqual(want)
    })
  }
})

describe('init.headers replace a Request’s headers (not merged), as in fetch', () => {
  const headerEcho = async (signed: boolean, init: Init) => {
    const origin = signed ? api.origin : plain.origin
    const input = new Request(`${origin}/echo`, { method: 'POST', body: TEXT, headers: { 'content-type': 'x/y', 'x-a': 'kept' } })
    let sentHeaders: Headers | undefined
    const f = createSignedFetch({
      ...creds(),
      fetch: async (u, i) => {
        sentHeaders = i.headers
        return fetch(u, i)
      },
    })
    try {
      if (!signed) {
        const res = await fetch(input, init as RequestInit)
        const e = (await res.json()) as Echo & { xa: string | null }
        return { ok: true, contentType: e.contentType, xa: e.xa, body: e.body }
      }
      const res = await f(input, init as RequestInit)
      expect(res.status).toBe(200)
      const e = (await res.json()) as Echo
      return { ok: true, contentType: e.contentType, xa: sentHeaders?.get('x-a') ?? null, body: e.body }
    } catch (err) {
      return { ok: false, error: (err as Error).name }
    }
  }
  const inits: Record<string, Init> = {
    absent: {},
    undefined: { headers: undefined },
    'null (TypeError)': { headers: null },
    'a value': { headers: { 'x-a': 'replaced' } },
    'a value and a body': { headers: { 'x-a': 'replaced' }, body: 'zz' },
  }
  for (const [name, init] of Object.entries(inits)) {
    it(`headers ${name}`, async () => {
      expect(await headerEcho(true, init)).toEqual(await headerEcho(false, init))
    })
  }
})

describe('a Request’s other members reach the injected fetch unless the init sets them', () => {
  it.each([
    ['absent', {}, 'include'],
    ['undefined', { credentials: undefined }, 'include'],
    ['set', { credentials: 'omit' }, 'omit'],
  ])('credentials %s', async (_n, init, want) => {
    let seen: RequestCredentials | undefined
    const f = createSignedFetch({
      ...creds(),
      fetch: async (u, i) => {
        seen = i.credentials
        return fetch(u, i)
      },
    })
    const res = await f(new Request(`${api.origin}/echo`, { credentials: 'include', keepalive: true }), init as RequestInit)
    expect(res.status).toBe(200)
    expect(seen).toBe(want)
    expect(new Request(`${api.origin}/x`, { credentials: 'include' }).credentials).toBe('include')
  })
})

describe('signal: null drops the Request’s signal, undefined keeps it (as fetch)', () => {
  it.each([
    ['null', { signal: null }],
    ['undefined', { signal: undefined }],
    ['absent', {}],
  ])('%s', async (_n, init) => {
    const input = (origin: string) => new Request(`${origin}/echo`, { signal: AbortSignal.abort() })
    const outcome = async (p: Promise<Response>) =>
      p.then(
        (r) => r.status,
        (e: Error) => e.name,
      )
    const f = createSignedFetch(creds())
    expect(await outcome(f(input(api.origin), init as RequestInit))).toBe(await outcome(fetch(input(plain.origin), init as RequestInit)))
  })
})

describe('an injected fetch is called as fetch(url, init): npm undici and node-fetch v3 work', () => {
  const fetches: Record<string, (url: string, init: RequestInit) => Promise<Response>> = {
    'undici fetch': (u, i) => undiciFetch(u, i as never) as unknown as Promise<Response>,
    'node-fetch v3': (u, i) => nodeFetch(u, i as never) as unknown as Promise<Response>,
  }
  const bodies: Record<string, () => BodyInit | (() => ReadableStream<Uint8Array>)> = {
    string: () => TEXT,
    bytes: () => BYTES.slice(),
    Blob: () => new Blob([BYTES], { type: 'application/x-thing' }),
    URLSearchParams: () => new URLSearchParams({ a: '1' }),
    FormData: BODIES.FormData as () => BodyInit,
  }
  for (const [name, impl] of Object.entries(fetches)) {
    it(`${name}: body-less and every buffered body type, verified by the server`, async () => {
      const f = createSignedFetch({ ...creds(), fetch: impl as never })
      const get = await f(`${api.origin}/echo/x?q=it's`)
      expect(get.status).toBe(200)
      expect(((await get.json()) as Echo).method).toBe('GET')
      for (const [kind, make] of Object.entries(bodies)) {
        const res = await f(`${api.origin}/echo`, { method: 'POST', body: make() as BodyInit })
        expect({ kind, status: res.status }).toEqual({ kind, status: 200 })
        const echo = (await res.json()) as Echo
        expect(echo.length).toBeGreaterThan(0)
      }
      // A Request as input: its body, headers and method reach the injected fetch.
      const res = await f(new Request(`${api.origin}/echo`, { method: 'PUT', body: TEXT, headers: { 'content-type': 'x/y' } }))
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ method: 'PUT', body: TEXT, contentType: 'x/y' })
    })

    it(`${name}: redirects followed and re-signed, responses verified`, async () => {
      const f = createSignedFetch({ ...creds(), fetch: impl as never, verifyResponses: responseVerifier() })
      const res = await f(`${api.origin}/redirect?to=/echo/landed`, { method: 'POST', body: TEXT, redirect: 'follow' })
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ method: 'POST', url: '/echo/landed', body: TEXT })
    })
  }

  it('undici fetch: a dispatcher in the init reaches it (ProxyAgent users)', async () => {
    let dispatched = 0
    const dispatcher = new Agent().compose((dispatch) => (opts, handler) => {
      dispatched++
      return dispatch(opts, handler)
    })
    try {
      const f = createSignedFetch({ ...creds(), fetch: (u, i) => undiciFetch(u, i as never) as unknown as Promise<Response> })
      const res = await f(`${api.origin}/echo`, { method: 'POST', body: TEXT, dispatcher } as RequestInit)
      expect(res.status).toBe(200)
      expect(dispatched).toBe(1)
    } finally {
      await dispatcher.close()
    }
  })

  it('node-fetch v3 sends no Web stream (a body factory): the server refuses what arrives (fails closed)', async () => {
    const f = createSignedFetch({ ...creds(), fetch: ((u: string, i: RequestInit) => nodeFetch(u, i as never)) as never })
    const res = await f(`${api.origin}/echo`, {
      method: 'POST',
      body: (() => (BODIES.ReadableStream as () => ReadableStream<Uint8Array>)()) as unknown as BodyInit,
    })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ code: 'DIGEST_MISMATCH' })
  })
})

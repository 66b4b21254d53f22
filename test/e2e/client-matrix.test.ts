// The client under real use (issue 17): every entry point × method spelling × body type against a
// real node:http server that verifies with verifyNodeRequest. Each cell sends one request and checks
// that the server accepted it and received exactly the bytes, method and target that were signed.
import { createSignedFetch, type SignedFetchOptions, signRequest } from '@sigil/client'
import { createSigningInterceptor } from '@sigil/client/undici'
import { Agent, Client, Pool, request, FormData as UndiciFormData, fetch as undiciFetch } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Echo, type RealServer, startApi } from './real-server.js'

let api: RealServer
beforeAll(async () => {
  api = await startApi({ maxBodyBytes: 1024 * 1024 })
})
afterAll(() => api.close())

const creds = () => ({ keyId: api.keyId, secret: api.secret })
const TEXT = 'h\u00e9llo w\u00f6rld {"a":1}'
const BYTES = new TextEncoder().encode(TEXT)
const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1')
const CHUNKS = [BYTES.subarray(0, 5), BYTES.subarray(5)]

type BodyKind =
  | 'string'
  | 'bytes'
  | 'ArrayBuffer'
  | 'DataView'
  | 'Blob'
  | 'FormData'
  | 'URLSearchParams'
  | 'stream (buffered)'
  | 'stream (not buffered)'
  | 'body factory'

interface BodyCase {
  make: (web: boolean, formData?: typeof FormData) => unknown
  /** Bytes the server must receive (FormData: checked by structure, the boundary is random). */
  expect?: string
  contentType?: RegExp
  stream?: boolean
}

async function* gen() {
  for (const c of CHUNKS) yield c.slice()
}
const webStream = () =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (const x of CHUNKS) c.enqueue(x.slice())
      c.close()
    },
  })

const BODIES: Record<BodyKind, BodyCase> = {
  string: { make: () => TEXT, expect: latin1(BYTES) },
  bytes: { make: () => BYTES.slice(), expect: latin1(BYTES) },
  ArrayBuffer: { make: () => BYTES.slice().buffer, expect: latin1(BYTES) },
  // A view into the middle of a larger buffer: only its own bytes are signed and sent.
  DataView: {
    make: () => {
      const big = new Uint8Array(BYTES.length + 7).fill(0x21)
      big.set(BYTES, 3)
      return new DataView(big.buffer, 3, BYTES.length)
    },
    expect: latin1(BYTES),
  },
  Blob: { make: () => new Blob([BYTES], { type: 'application/x-thing' }), expect: latin1(BYTES), contentType: /^application\/x-thing$/ },
  FormData: {
    make: (_web, FD = FormData) => {
      const fd = new FD()
      fd.append('a', '1')
      fd.append('file', new Blob(['xyz'], { type: 'text/plain' }), 'f.txt')
      return fd
    },
    contentType: /^multipart\/form-data; boundary=/,
  },
  URLSearchParams: {
    make: () => new URLSearchParams({ a: '1', b: 'x y' }),
    expect: 'a=1&b=x+y',
    contentType: /^application\/x-www-form-urlencoded/,
  },
  'stream (buffered)': { make: (web) => (web ? webStream() : gen()), expect: latin1(BYTES), stream: true },
  'stream (not buffered)': { make: (web) => (web ? webStream() : gen()), expect: latin1(BYTES), stream: true },
  'body factory': { make: () => () => webStream(), expect: latin1(BYTES) },
}

type Entry = 'createSignedFetch' | 'signRequest' | 'Agent' | 'Pool' | 'Client' | 'undici fetch'
type Outcome = { status: number; echo?: Echo; code?: string }

const refused = (e: unknown): Outcome => ({ status: 0, code: (e as { code?: string }).code ?? String(e) })

async function viaFetch(res: Response): Promise<Outcome> {
  const text = await res.text()
  return { status: res.status, ...(res.status === 200 && text ? { echo: JSON.parse(text) as Echo } : {}) }
}

async function viaUndici(res: Awaited<ReturnType<typeof request>>): Promise<Outcome> {
  const text = await res.body.text()
  return { status: res.statusCode, ...(res.statusCode === 200 && text ? { echo: JSON.parse(text) as Echo } : {}) }
}

const dispatchers = new Map<string, Agent | Pool | Client>()
function dispatcherFor(entry: 'Agent' | 'Pool' | 'Client' | 'undici fetch', buffer: boolean) {
  const key = `${entry}:${buffer}`
  let d = dispatchers.get(key)
  if (!d) {
    const signing = createSigningInterceptor({
      ...creds(),
      bufferStreams: buffer,
      ...(entry === 'Pool' || entry === 'Client' ? { origin: api.origin } : {}),
    })
    const base = entry === 'Pool' ? new Pool(api.origin) : entry === 'Client' ? new Client(api.origin) : new Agent()
    d = base.compose(signing) as Agent
    dispatchers.set(key, d)
  }
  return d
}
afterAll(async () => {
  for (const d of dispatchers.values()) await d.close()
})

async function send(entry: Entry, method: string, body: BodyKind | null, query?: Record<string, string>): Promise<Outcome> {
  const c = body ? BODIES[body] : undefined
  const buffer = body === 'stream (buffered)'
  const path = '/echo/x?z=1'
  try {
    switch (entry) {
      case 'createSignedFetch': {
        const f = createSignedFetch({ ...creds(), bufferStreams: buffer } as SignedFetchOptions)
        const init = { method, ...(c ? { body: c.make(true), duplex: 'half' } : {}) } as RequestInit
        return await viaFetch(await f(`${api.origin}${path}`, init))
      }
      case 'signRequest': {
        const init = { method, ...(c ? { body: c.make(true), duplex: 'half' } : {}) } as RequestInit
        return await viaFetch(await fetch(await signRequest(new Request(`${api.origin}${path}`, init), creds())))
      }
      case 'undici fetch': {
        // undici's fetch recognizes its own FormData class only (Node's global one is another realm).
        const made = c?.make(true, UndiciFormData as unknown as typeof FormData)
        const init = { method, dispatcher: dispatcherFor(entry, true), ...(c ? { body: made, duplex: 'half' } : {}) }
        return await viaFetch((await undiciFetch(`${api.origin}${path}`, init as never)) as unknown as Response)
      }
      default: {
        const dispatcher = dispatcherFor(entry, buffer)
        const p = query ? '/echo/x' : path
        const opts = { method, ...(query ? { query } : {}), ...(c ? { body: c.make(false) } : {}) } as never
        if (entry === 'Agent') return await viaUndici(await request(`${api.origin}${p}`, { ...(opts as object), dispatcher } as never))
        return await viaUndici(await (dispatcher as Pool).request({ path: p, ...(opts as object) } as never))
      }
    }
  } catch (e) {
    return refused(e)
  }
}

const ENTRIES: Entry[] = ['createSignedFetch', 'signRequest', 'Agent', 'Pool', 'Client', 'undici fetch']
const BODYLESS = ['get', 'Get', 'GET', 'head', 'Head', 'HEAD', 'delete', 'DELETE', 'options', 'OPTIONS']
const WITH_BODY = ['post', 'Post', 'POST', 'put', 'pUT', 'PATCH', 'delete']

describe('every method spelling, body-less, through every entry point', () => {
  for (const entry of ENTRIES) {
    it(`${entry}`, async () => {
      for (const method of BODYLESS) {
        const r = await send(entry, method, null)
        expect({ method, status: r.status }).toEqual({ method, status: 200 })
        if (method.toUpperCase() !== 'HEAD') expect(r.echo).toMatchObject({ method: method.toUpperCase(), url: '/echo/x?z=1', length: 0 })
      }
    })
  }
})

/** What each entry point accepts (the README table): anything else is refused with a clear error. */
function expected(entry: Entry, body: BodyKind): 'ok' | 'refused' {
  if (body === 'stream (not buffered)') return entry === 'signRequest' ? 'ok' : 'refused'
  if (body === 'body factory') return entry === 'createSignedFetch' ? 'ok' : 'refused'
  return 'ok'
}

describe('every body type × method spelling through every entry point', () => {
  for (const entry of ENTRIES) {
    for (const body of Object.keys(BODIES) as BodyKind[]) {
      // fetch has no body-factory notion and hands every body to a dispatcher as a stream.
      if (entry === 'undici fetch' && (body === 'body factory' || body === 'stream (not buffered)')) continue
      if (entry === 'signRequest' && body === 'body factory') continue
      it(`${entry} × ${body}`, async () => {
        const c = BODIES[body]
        for (const method of WITH_BODY) {
          const r = await send(entry, method, body)
          if (expected(entry, body) === 'refused') {
            expect({ method, code: r.code }).toEqual({ method, code: 'CONFIGURATION_INVALID' })
            continue
          }
          expect({ method, status: r.status }).toEqual({ method, status: 200 })
          const echo = r.echo as Echo
          expect(echo.method).toBe(method.toUpperCase())
          if (c.expect !== undefined) expect(echo.body).toBe(c.expect)
          if (c.contentType) expect(echo.contentType).toMatch(c.contentType)
          if (body === 'FormData') {
            const boundary = /boundary=(.+)$/.exec(echo.contentType ?? '')?.[1] as string
            expect(echo.body).toContain(`--${boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n`)
            expect(echo.body).toContain('filename="f.txt"')
            expect(echo.body).toContain(`--${boundary}--`)
          }
        }
      })
    }
  }
})

describe('undici query option is signed as sent', () => {
  for (const entry of ['Agent', 'Pool', 'Client'] as const) {
    it(entry, async () => {
      for (const method of ['get', 'POST']) {
        const r = await send(entry, method, method === 'POST' ? 'string' : null, { b: '2', a: 'x y', c: 'é/?' })
        expect(r.status).toBe(200)
        expect(r.echo?.url).toBe('/echo/x?b=2&a=x%20y&c=%C3%A9%2F%3F')
      }
      const both = await request(`${api.origin}/echo?x=1`, { query: { a: '1' }, dispatcher: dispatcherFor('Agent', false) }).then(
        viaUndici,
        refused,
      )
      expect(both.code).toBe('CONFIGURATION_INVALID')
    })
  }
})

describe('Pool and Client need to know their origin', () => {
  it('refuses clearly without origin, and refuses a request for another origin when pinned', async () => {
    const pool = new Pool(api.origin).compose(createSigningInterceptor(creds()))
    const r = await (pool as unknown as Pool).request({ path: '/echo', method: 'GET' }).then(viaUndici, refused)
    expect(r.code).toBe('CONFIGURATION_INVALID')
    const pinned = new Agent().compose(createSigningInterceptor({ ...creds(), origin: 'http://127.0.0.1:1' }))
    const other = await request(`${api.origin}/echo`, { dispatcher: pinned }).then(viaUndici, refused)
    expect(other.code).toBe('CONFIGURATION_INVALID')
    await pool.close()
    await pinned.close()
  })
})

describe('undici header shapes and empty bodies', () => {
  it('flat arrays, [name, value] pairs, Headers and objects are all signed as sent', async () => {
    const d = dispatcherFor('Agent', false)
    const shapes = [
      ['content-type', 'text/x', 'x-a', 'b'],
      [
        ['content-type', 'text/x'],
        ['x-a', 'b'],
      ],
      new Headers({ 'content-type': 'text/x', 'x-a': 'b' }),
      { 'Content-Type': 'text/x', 'x-a': 'b' },
    ]
    for (const headers of shapes) {
      const r = await request(`${api.origin}/echo`, { method: 'POST', body: 'x', headers: headers as never, dispatcher: d }).then(
        viaUndici,
        refused,
      )
      expect(r).toMatchObject({ status: 200, echo: { contentType: 'text/x', body: 'x' } })
    }
  })

  it('an empty body (string, bytes) and no body are accepted through every entry point', async () => {
    for (const body of ['', new Uint8Array(0), null]) {
      const u = await request(`${api.origin}/echo`, { method: 'POST', body: body as never, dispatcher: dispatcherFor('Agent', false) })
      expect(u.statusCode).toBe(200)
      await u.body.dump()
      const f = await createSignedFetch(creds())(`${api.origin}/echo`, { method: 'POST', body })
      expect(f.status).toBe(200)
      await f.body?.cancel()
    }
  })
})

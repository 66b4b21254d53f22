// @sigil/client/got against a real node:http server running verifyNodeRequest (issue 26 item 4):
// every body got can send (json, form, strings, Buffers, FormData, Readable, generators) and
// searchParams, on got's retry and redirect paths. Every request must be accepted with exactly
// the bytes, target and method got meant to send.
import { Readable } from 'node:stream'
import { sigilGot } from '@sigil/client/got'
import got, { type Got } from 'got'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Echo, type RealServer, startApi, startRecorder } from './real-server.js'

let api: RealServer
let other: Awaited<ReturnType<typeof startRecorder>>
beforeAll(async () => {
  other = await startRecorder()
  api = await startApi({ maxBodyBytes: 1024 * 1024 }, () => other.origin)
})
afterAll(async () => {
  await api.close()
  await other.close()
})

const TEXT = 'h\u00e9llo w\u00f6rld'
const BYTES = Buffer.from(TEXT)

function client(extra: Record<string, unknown> = {}): Got {
  return got.extend(
    { prefixUrl: api.origin, retry: { limit: 0 }, throwHttpErrors: false },
    sigilGot({ keyId: api.keyId, secret: api.secret, ...extra }),
  )
}
const echo = async (p: Promise<{ statusCode: number; body: string }>) => {
  const r = await p
  expect(r.statusCode).toBe(200)
  return JSON.parse(r.body) as Echo
}

describe('sigilGot', () => {
  it('body-less requests and searchParams with quotes, brackets and unicode', async () => {
    const g = client()
    for (const method of ['GET', 'DELETE', 'HEAD', 'OPTIONS'] as const) {
      expect({ method, status: (await g('echo/x', { method })).statusCode }).toEqual({ method, status: 200 })
    }
    const e = await echo(g('echo/p', { searchParams: { q: "it's", 'a[b]': '[x]', u: '\u00e9\u2603', sp: 'a b' } }))
    const got_ = new URL(e.url, 'http://x').searchParams
    expect([got_.get('q'), got_.get('a[b]'), got_.get('u'), got_.get('sp')]).toEqual(["it's", '[x]', '\u00e9\u2603', 'a b'])
    expect((await g("echo/p?pre=it's&b=[1]")).statusCode).toBe(200)
  })

  it('json, form, string, Buffer and typed-array bodies', async () => {
    const g = client()
    expect(await echo(g.post('echo', { json: { sku: 'A-1' } }))).toMatchObject({ body: '{"sku":"A-1"}', contentType: 'application/json' })
    expect(await echo(g.put('echo', { form: { a: '1', b: "x y'" } }))).toMatchObject({
      method: 'PUT',
      body: 'a=1&b=x+y%27',
      contentType: 'application/x-www-form-urlencoded',
    })
    expect(await echo(g.patch('echo', { body: 'text', headers: { 'content-type': 'text/plain' } }))).toMatchObject({ body: 'text' })
    expect(await echo(g.post('echo', { body: BYTES }))).toMatchObject({ length: BYTES.length, body: BYTES.toString('latin1') })
    expect(await echo(g.post('echo', { body: new Uint8Array(BYTES) }))).toMatchObject({ length: BYTES.length })
  })

  it('FormData, Readable and generator bodies are buffered, signed and sent', async () => {
    const g = client()
    const fd = new FormData()
    fd.append('a', '1')
    fd.append('file', new Blob(['xyz'], { type: 'text/plain' }), 'f.txt')
    const form = await echo(g.post('echo', { body: fd }))
    const boundary = /boundary=(.+)$/.exec(form.contentType ?? '')?.[1] as string
    expect(boundary).toBeTruthy()
    expect(form.body).toContain(`--${boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n`)
    expect(form.body).toContain('filename="f.txt"')
    const stream = await echo(g.post('echo', { body: Readable.from([BYTES.subarray(0, 3), BYTES.subarray(3)]) }))
    expect(stream).toMatchObject({ length: BYTES.length, body: BYTES.toString('latin1') })
    async function* chunks() {
      yield BYTES.subarray(0, 5)
      yield BYTES.subarray(5)
    }
    expect(await echo(g.post('echo', { body: chunks() }))).toMatchObject({ length: BYTES.length })
    // Over the limit, or with buffering off: refused before anything is sent, with a clear error.
    const before = api.hits.length
    await expect(client({ maxBufferBytes: 4 }).post('echo', { body: Readable.from([BYTES]) })).rejects.toThrow(/maxBufferBytes/)
    await expect(client({ bufferStreams: false }).post('echo', { body: fd })).rejects.toThrow(/streamed body .* cannot be digested/)
    expect(api.hits.length).toBe(before)
  })

  it('retries: got re-runs the hook, so each attempt is signed afresh (json and a buffered stream)', async () => {
    const retrying = got.extend(
      {
        prefixUrl: api.origin,
        retry: { limit: 1, methods: ['POST', 'PUT'], calculateDelay: ({ computedValue }) => (computedValue ? 5 : 0) },
      },
      sigilGot({ keyId: api.keyId, secret: api.secret }),
    )
    const signatures: string[] = []
    const spy = retrying.extend({
      hooks: {
        afterResponse: [
          (r) => {
            signatures.push(String(r.request.options.headers.signature))
            return r
          },
        ],
      },
    })
    const id = `got-${Date.now()}`
    const a = await spy.put(`flaky?id=${id}`, { json: { n: 1 } }).json<Echo>()
    expect(a).toMatchObject({ method: 'PUT', body: '{"n":1}' })
    const b = await retrying.post(`flaky?id=${id}-s`, { body: Readable.from([BYTES]) }).json<Echo>()
    expect(b).toMatchObject({ method: 'POST', length: BYTES.length })
    expect(signatures.length).toBe(2)
    expect(new Set(signatures).size).toBe(2)
  })

  it('redirects: same-origin hops re-signed (307 keeps the body, 303 turns into GET)', async () => {
    const g = client()
    expect(await echo(g.post('redirect?status=307&to=/echo/landed', { json: { a: 1 } }))).toMatchObject({
      method: 'POST',
      url: '/echo/landed',
      body: '{"a":1}',
    })
    expect(await echo(g.post('redirect?status=303&to=/echo/seen', { body: Readable.from([BYTES]) }))).toMatchObject({
      method: 'GET',
      url: '/echo/seen',
      length: 0,
    })
  })

  it('a redirect to another origin goes there unsigned, unless crossOrigin: "sign"', async () => {
    const r = await client()('to-other?status=307')
    expect(JSON.parse(r.body)).toEqual({ other: true })
    expect(other.hits.at(-1)).toMatchObject({ url: '/landed', signed: false })
    await client({ redirects: { crossOrigin: 'sign' } })('to-other?status=307')
    expect(other.hits.at(-1)).toMatchObject({ url: '/landed', signed: true })
  })
})

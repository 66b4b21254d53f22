// @sigil/client/axios against a real node:http server running verifyNodeRequest (issue 26 item 3),
// on both of axios's Node adapters (http and fetch): every body axios can send, params that axios
// serializes its own way, redirects and a retry. Every request must be accepted, and the server
// must have received exactly the bytes, target and method that axios meant to send.
import { Readable } from 'node:stream'
import { sigilAxios } from '@sigil/client/axios'
import axios, { type AxiosInstance } from 'axios'
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
const ADAPTERS = ['http', 'fetch'] as const

function client(adapter: (typeof ADAPTERS)[number], extra: Record<string, unknown> = {}): AxiosInstance {
  return sigilAxios(axios.create({ baseURL: api.origin, adapter }), { keyId: api.keyId, secret: api.secret, ...extra })
}

const boundaryOf = (ct: string | null) => /boundary=(.+)$/.exec(ct ?? '')?.[1]

for (const adapter of ADAPTERS) {
  describe(`sigilAxios on the ${adapter} adapter`, () => {
    it('body-less requests in every method, and params with quotes, brackets and unicode', async () => {
      const ax = client(adapter)
      for (const method of ['get', 'delete', 'head', 'options'] as const) {
        const res = await ax.request({ method, url: '/echo/x' })
        expect({ method, status: res.status }).toEqual({ method, status: 200 })
      }
      const params = { q: "it's", 'a[b]': '[x]', u: '\u00e9\u2603', list: [1, 2], nested: { k: 'v' }, sp: 'a b' }
      const res = await ax.get<Echo>('/echo/p', { params })
      expect(res.status).toBe(200)
      // Whatever axios serialized is what the server received and verified; nothing is lost.
      const got = new URL(res.data.url, 'http://x').searchParams
      expect(got.get('q')).toBe("it's")
      expect(got.get('a[b]')).toBe('[x]')
      expect(got.get('u')).toBe('\u00e9\u2603')
      expect(got.get('sp')).toBe('a b')
      // A custom paramsSerializer is honoured too.
      const custom = await ax.get<Echo>('/echo/p', { params: { z: "'" }, paramsSerializer: () => "raw='quote'&x=[1]" })
      expect(custom.status).toBe(200)
      expect(new URL(custom.data.url, 'http://x').searchParams.get('raw')).toBe("'quote'")
      // A query already in the URL, plus params.
      const both = await ax.get<Echo>("/echo/p?pre=it's", { params: { post: "'" } })
      expect(both.status).toBe(200)
    })

    it('JSON, strings, URLSearchParams, Buffer, ArrayBuffer and typed arrays', async () => {
      const ax = client(adapter)
      const json = await ax.post<Echo>('/echo', { sku: 'A-1', n: 2 })
      expect(json.data).toMatchObject({ method: 'POST', body: '{"sku":"A-1","n":2}', contentType: 'application/json' })
      const form = await ax.put<Echo>('/echo', new URLSearchParams({ a: '1', b: "x y'" }))
      expect(form.data.body).toBe('a=1&b=x+y%27')
      expect(form.data.contentType).toMatch(/^application\/x-www-form-urlencoded/)
      const buf = await ax.patch<Echo>('/echo', BYTES, { headers: { 'content-type': 'application/octet-stream' } })
      expect(buf.data).toMatchObject({ method: 'PATCH', length: BYTES.length, body: BYTES.toString('latin1') })
      const ab = await ax.post<Echo>('/echo', BYTES.buffer.slice(BYTES.byteOffset, BYTES.byteOffset + BYTES.length))
      expect(ab.data.length).toBe(BYTES.length)
      const str = await ax.post<Echo>('/echo', 'plain text', { headers: { 'content-type': 'text/plain' } })
      expect(str.data).toMatchObject({ body: 'plain text', contentType: 'text/plain' })
      // A form from an object with a urlencoded content-type: axios serializes it.
      const urlenc = await ax.post<Echo>('/echo', { a: 1, b: "'" }, { headers: { 'content-type': 'application/x-www-form-urlencoded' } })
      expect(urlenc.status).toBe(200)
      expect(urlenc.data.body).toContain('a=1')
    })

    it('FormData (the global one, and axios’s own multipart serialization of an object), boundary included', async () => {
      const ax = client(adapter)
      const fd = new FormData()
      fd.append('a', '1')
      fd.append('file', new Blob(['xyz'], { type: 'text/plain' }), 'f.txt')
      const res = await ax.post<Echo>('/echo', fd)
      expect(res.status).toBe(200)
      const boundary = boundaryOf(res.data.contentType) as string
      expect(res.data.contentType).toMatch(/^multipart\/form-data; boundary=/)
      expect(res.data.body).toContain(`--${boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n`)
      expect(res.data.body).toContain('filename="f.txt"')
      const fromObject = await ax.post<Echo>('/echo', { a: '1', b: 'two' }, { headers: { 'content-type': 'multipart/form-data' } })
      expect(fromObject.status).toBe(200)
      const b2 = boundaryOf(fromObject.data.contentType) as string
      expect(b2).toBeTruthy()
      expect(fromObject.data.body).toContain(`--${b2}`)
      expect(fromObject.data.body).toContain('name="b"')
    })

    it('Blob, Node Readable and Web ReadableStream bodies are read, signed and sent', async () => {
      const ax = client(adapter)
      const blob = await ax.post<Echo>('/echo', new Blob([BYTES], { type: 'application/x-thing' }))
      expect(blob.data).toMatchObject({ length: BYTES.length, contentType: 'application/x-thing' })
      const node = await ax.post<Echo>('/echo', Readable.from([BYTES.subarray(0, 3), BYTES.subarray(3)]), {
        headers: { 'content-type': 'application/octet-stream' },
      })
      expect(node.data).toMatchObject({ length: BYTES.length, body: BYTES.toString('latin1') })
      const web = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(BYTES.subarray(0, 4))
          c.enqueue(BYTES.subarray(4))
          c.close()
        },
      })
      const webRes = await ax.post<Echo>('/echo', web, { headers: { 'content-type': 'application/octet-stream' } })
      expect(webRes.data).toMatchObject({ length: BYTES.length })
      // axios's maxBodyLength bounds what is read into memory.
      const big = Readable.from([Buffer.alloc(600), Buffer.alloc(600)])
      await expect(ax.post('/echo', big, { maxBodyLength: 1000 })).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' })
    })

    it('same-origin redirects are followed and re-signed (307 keeps the body, 303 turns into GET)', async () => {
      const ax = client(adapter)
      const r307 = await ax.post<Echo>('/redirect?status=307&to=/echo/landed', { a: 1 })
      expect(r307.status).toBe(200)
      expect(r307.data).toMatchObject({ method: 'POST', url: '/echo/landed', body: '{"a":1}' })
      const r303 = await ax.post<Echo>('/redirect?status=303&to=/echo/seen', { a: 1 })
      expect(r303.data).toMatchObject({ method: 'GET', url: '/echo/seen', length: 0, contentType: null })
      // maxRedirects: 0 hands the 3xx back, as axios does.
      await expect(ax.get('/redirect?status=307&to=/echo/x', { maxRedirects: 0 })).rejects.toMatchObject({ response: { status: 307 } })
      const loop = ax.get('/loop', { maxRedirects: 3 })
      await expect(loop).rejects.toMatchObject({ code: 'ERR_FR_TOO_MANY_REDIRECTS' })
    })

    it('another origin is not followed by default, and with crossOrigin: true is followed unsigned', async () => {
      const before = other.hits.length
      await expect(client(adapter).get('/to-other?status=307')).rejects.toMatchObject({ response: { status: 307 } })
      expect(other.hits.length).toBe(before)
      const res = await client(adapter, { redirects: { crossOrigin: true } }).get('/to-other?status=307')
      expect(res.data).toEqual({ other: true })
      expect(other.hits.at(-1)).toMatchObject({ url: '/landed', signed: false })
    })

    it('a retry (an interceptor re-sending error.config, as axios-retry does) is signed afresh', async () => {
      const ax = client(adapter)
      let retries = 0
      ax.interceptors.response.use(undefined, async (err) => {
        if (err.response?.status === 503 && retries === 0) {
          retries++
          return ax.request(err.config)
        }
        throw err
      })
      const id = `${adapter}-${Date.now()}`
      const res = await ax.post<Echo>(`/flaky?id=${id}`, { n: 1 })
      expect(retries).toBe(1)
      expect(res.status).toBe(200)
      expect(res.data).toMatchObject({ method: 'POST', body: '{"n":1}' })
    })
  })
}

it('per-request adapter choice is signed too, and unsigned axios is refused (the baseline)', async () => {
  const ax = client('http')
  expect((await ax.get('/echo/x', { adapter: 'fetch' })).status).toBe(200)
  const plain = axios.create({ baseURL: api.origin, validateStatus: () => true })
  expect((await plain.get('/echo/x')).data).toMatchObject({ code: 'SIGNATURE_MISSING' })
})

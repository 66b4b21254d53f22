// With consumeBody: true the Hono middleware reads the body itself, without a clone (issue 13), and
// hands the verified bytes to Hono's body cache: c.req.json() / text() / arrayBuffer() / parseBody()
// and validators read them; c.req.raw's own body is then used. By default it digests a clone and
// c.req.raw stays readable. Over a real socket (@hono/node-server) and through app.request().
import { createAdaptorServer } from '@hono/node-server'
import { type HonoSigilOptions, sigil } from '@sigil/server/hono'
import { Hono } from 'hono'
import { validator } from 'hono/validator'
import { afterEach, describe, expect, it } from 'vitest'
import { baseOptions, json, listening, replyFrom, signed, type Transport, type Wire } from './fixtures.js'

const order = { sku: 'A-1', qty: 2, note: 'ünïcödé' }
const url = (path: string) => `http://api.test${path}`

function app(over: Partial<HonoSigilOptions> = {}) {
  const a = new Hono()
  a.use(sigil({ ...baseOptions(), consumeBody: true, ...over }))
  const seen = (c: { req: { raw: Request } }, extra: object) => ({
    rawBodyUsed: c.req.raw.bodyUsed,
    ...extra,
  })
  a.post('/json', async (c) =>
    c.json(seen(c, { body: await c.req.json(), again: await c.req.text(), kept: c.get('sigil')?.body?.byteLength })),
  )
  a.post('/bytes', async (c) => c.json(seen(c, { length: (await c.req.arrayBuffer()).byteLength, text: await c.req.text() })))
  a.post('/form', async (c) => c.json(seen(c, { body: await c.req.parseBody() })))
  a.post(
    '/validated',
    validator('json', (v) => v as typeof order),
    (c) => c.json(seen(c, { body: c.req.valid('json') })),
  )
  a.post('/raw', async (c) => c.json(seen(c, { body: await c.req.raw.json() })))
  a.onError((e, c) => c.json({ error: e.name }, 500))
  a.get('/none', async (c) => c.json(seen(c, { text: await c.req.text() })))
  return a
}

const transports: Array<[string, (a: Hono) => Promise<Transport>]> = [
  ['listen', (a) => listening(createAdaptorServer({ fetch: a.fetch }) as import('node:http').Server)],
  [
    'inject',
    async (a) => ({
      send: async (w: Wire) => {
        const res = await a.request(`http://${w.headers.host}${w.target}`, {
          method: w.method,
          headers: w.headers,
          ...(w.body ? { body: w.body as BodyInit } : {}),
        })
        return replyFrom(res.status, res.headers, new Uint8Array(await res.arrayBuffer()))
      },
      close: async () => {},
    }),
  ],
]

for (const [via, start] of transports) {
  describe(`hono sigil({ consumeBody: true }): body without a clone (${via})`, () => {
    let t: Transport | undefined
    afterEach(async () => {
      await t?.close()
      t = undefined
    })
    const send = async (a: Hono, w: Wire) => {
      t = await start(a)
      return t.send(w)
    }

    it('c.req.json() and c.req.text() read the verified bytes; c.req.raw is used', async () => {
      const r = await send(app(), await signed('POST', url('/json'), json(order)))
      expect(r.status).toBe(200)
      expect(r.json).toEqual({
        rawBodyUsed: true,
        body: order,
        again: JSON.stringify(order),
        kept: Buffer.byteLength(JSON.stringify(order)),
      })
    })

    it('c.req.arrayBuffer() has exactly the body', async () => {
      const text = 'x'.repeat(1500)
      const r = await send(app(), await signed('POST', url('/bytes'), { type: 'application/octet-stream', text }))
      expect(r.json).toMatchObject({ length: 1500, text })
    })

    it('parseBody() reads a verified form', async () => {
      const r = await send(app(), await signed('POST', url('/form'), { type: 'application/x-www-form-urlencoded', text: 'a=1&b=two' }))
      expect(r.json).toMatchObject({ body: { a: '1', b: 'two' } })
    })

    it("hono's validator reads the verified JSON", async () => {
      const r = await send(app(), await signed('POST', url('/validated'), json(order)))
      expect(r.json).toMatchObject({ body: order })
    })

    it('with retainBody: false the bytes reach the handler but not the result', async () => {
      const r = await send(app({ retainBody: false }), await signed('POST', url('/json'), json(order)))
      expect(r.json).toMatchObject({ body: order })
      expect(r.json.kept).toBeUndefined()
    })

    it('without consumeBody (the default) a clone is digested: c.req.raw stays readable', async () => {
      const r = await send(app({ consumeBody: undefined }), await signed('POST', url('/raw'), json(order)))
      expect(r.json).toEqual({ rawBodyUsed: true, body: order })
      const j = await send(app({ consumeBody: false }), await signed('POST', url('/json'), json(order)))
      expect(j.json).toMatchObject({ body: order })
    })

    it('with consumeBody, a handler reading c.req.raw finds the body used', async () => {
      const r = await send(app(), await signed('POST', url('/raw'), json(order)))
      expect([r.status, r.json]).toEqual([500, { error: 'TypeError' }])
    })

    it('an empty body and a body-less GET', async () => {
      const e = await send(app(), await signed('POST', url('/bytes'), { type: 'application/octet-stream', text: '' }))
      expect(e.json).toMatchObject({ length: 0, text: '' })
      const g = await send(app(), await signed('GET', url('/none')))
      expect(g.json).toEqual({ rawBodyUsed: false, text: '' })
    })

    it('still refuses a tampered body and one over the limit', async () => {
      const w = await signed('POST', url('/json'), json(order))
      const tampered = JSON.stringify({ ...order, qty: 9 })
      const bad = await send(app(), {
        ...w,
        body: tampered,
        headers: { ...w.headers, 'content-length': String(Buffer.byteLength(tampered)) },
      })
      expect([bad.status, bad.json.code]).toEqual([401, 'DIGEST_MISMATCH'])
      await t?.close()
      const big = await send(app(), await signed('POST', url('/bytes'), { type: 'text/plain', text: 'y'.repeat(5000) }))
      expect([big.status, big.json.code]).toEqual([413, 'BODY_TOO_LARGE'])
    })
  })
}

describe('hono sigil() after a middleware that read the body through c.req', () => {
  const early = () => {
    const a = new Hono()
    a.use(async (c, next) => {
      await c.req.text()
      await next()
    })
    a.use(sigil(baseOptions()))
    a.post('/json', async (c) => c.json({ body: await c.req.json() }))
    return a
  }
  const send = async (w: Wire) => {
    const res = await early().request(`http://${w.headers.host}${w.target}`, {
      method: w.method,
      headers: w.headers,
      body: w.body as BodyInit,
    })
    return { status: res.status, json: await res.json() }
  }

  it('verifies the bytes in the body cache, the ones the app reads', async () => {
    expect(await send(await signed('POST', url('/json'), json(order)))).toEqual({ status: 200, json: { body: order } })
  })

  it('refuses cached bytes that do not match the digest', async () => {
    const w = await signed('POST', url('/json'), json(order))
    const r = await send({ ...w, body: JSON.stringify({ ...order, qty: 9 }) })
    expect([r.status, r.json.code]).toEqual([401, 'DIGEST_MISMATCH'])
  })
})

describe('hono sigil() options', () => {
  it('refuses a consumeBody that is not a boolean', () => {
    expect(() => sigil({ ...baseOptions(), consumeBody: 'yes' as unknown as boolean })).toThrow(/consumeBody/)
  })
})

// The undici interceptor against a real node:http server on 127.0.0.1.
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSigningInterceptor } from '@sigil/client/undici'
import { randomBytes } from '@sigil/core/internal'
import { type Verified, withSigil } from '@sigil/server/node'
import { Agent, request, fetch as undiciFetch } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const secret = randomBytes(32)
const keyId = 'kUndiciClient1'
let server: Server
let origin: string

beforeAll(async () => {
  server = createServer(
    withSigil({ keys: { [keyId]: secret } }, (req, res, verified) => {
      const v = verified as Verified
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ by: v.keyId, method: req.method, url: req.url, body: v.body ? Buffer.from(v.body).toString() : null }))
    }),
  )
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

describe('@sigil/client/undici interceptor', () => {
  const dispatcher = new Agent().compose(createSigningInterceptor({ keyId, secret }))

  it('signs undici.request with a string body and a raw query', async () => {
    const res = await request(`${origin}/v1/orders?b=2&a=1&x=%2F`, {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
      dispatcher,
    })
    expect(res.statusCode).toBe(200)
    expect(await res.body.json()).toEqual({ by: keyId, method: 'POST', url: '/v1/orders?b=2&a=1&x=%2F', body: '{"a":1}' })
  })

  it('signs body-less GETs and Buffer bodies', async () => {
    const get = await request(`${origin}/v1/orders/7`, { dispatcher })
    expect(get.statusCode).toBe(200)
    await get.body.dump()
    const put = await request(`${origin}/v1/blob`, { method: 'PUT', body: Buffer.from([0, 1, 2, 3]), dispatcher })
    expect(put.statusCode).toBe(200)
    await put.body.dump()
  })

  it('an unsigned request through a plain Agent is rejected', async () => {
    const res = await request(`${origin}/v1/orders/7`)
    expect(res.statusCode).toBe(401)
    expect(await res.body.json()).toMatchObject({ code: 'SIGNATURE_MISSING' })
  })

  it('works as the dispatcher of fetch (stream bodies buffered on request)', async () => {
    const buffering = new Agent().compose(createSigningInterceptor({ keyId, secret, bufferStreams: true }))
    const res = await undiciFetch(`${origin}/v1/orders`, { method: 'POST', body: 'hello', dispatcher: buffering })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ body: 'hello' })
    const get = await fetch(`${origin}/v1/orders/9`, { dispatcher: buffering } as RequestInit)
    expect(get.status).toBe(200)
  })

  it('without bufferStreams a streamed fetch body fails with a clear error, not an unsigned send', async () => {
    await expect(undiciFetch(`${origin}/v1/orders`, { method: 'POST', body: 'hello', dispatcher })).rejects.toThrow()
  })
})

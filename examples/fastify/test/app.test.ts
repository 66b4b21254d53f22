import { createSignedFetch, signRequest } from '@sigil/client'
import { DEMO_PARTNER, DEMO_READONLY } from '@sigil-examples/demo-keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../src/app.js'

describe('examples/fastify', () => {
  let app: Awaited<ReturnType<typeof createApp>>
  let base: string
  beforeAll(async () => {
    app = await createApp()
    base = await app.listen({ port: 0, host: '127.0.0.1' })
  })
  afterAll(() => app.close())

  const order = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: 'A-1' }) }

  it('creates and lists orders for a signed client over a real socket', async () => {
    const api = createSignedFetch(DEMO_PARTNER)
    const created = await api(`${base}/v1/orders`, order)
    expect(created.status).toBe(201)
    expect(await created.json()).toMatchObject({ by: 'partner-demo', order: { sku: 'A-1' } })
    expect((await api(`${base}/v1/orders`)).status).toBe(200)
  })

  it('works through fastify.inject too', async () => {
    const signed = await signRequest(new Request('http://api.test/v1/orders', order), DEMO_PARTNER)
    const res = await app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers: { ...Object.fromEntries(signed.headers), host: 'api.test' },
      payload: order.body,
    })
    expect(res.statusCode).toBe(201)
  })

  it('answers 403 to a read-only key, 401 to an unsigned request, 200 on the exempt health check', async () => {
    const denied = await createSignedFetch(DEMO_READONLY)(`${base}/v1/orders`, order)
    expect([denied.status, (await denied.json()).code]).toEqual([403, 'SCOPE_DENIED'])
    const unsigned = await fetch(`${base}/v1/orders`)
    expect([unsigned.status, (await unsigned.json()).code]).toEqual([401, 'SIGNATURE_MISSING'])
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
  })
})

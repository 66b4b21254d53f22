import { createSignedFetch } from '@sigil/client'
import { DEMO_PARTNER, DEMO_READONLY } from '@sigil-examples/demo-keys'
import { describe, expect, it } from 'vitest'
import { createApp } from '../src/app.js'

// No ports: the signed fetch's transport is the app itself (app.request), as on a Worker.
describe('examples/hono', () => {
  const app = createApp()
  const local = (r: RequestInfo | URL, init?: RequestInit) => Promise.resolve(app.request(r as Request, init))
  const order = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: 'A-1' }) }

  it('creates and lists orders for a signed client; c.req.json() still reads the body', async () => {
    const api = createSignedFetch({ ...DEMO_PARTNER, fetch: local as typeof fetch })
    const created = await api('http://api.test/v1/orders', order)
    expect(created.status).toBe(201)
    expect(await created.json()).toMatchObject({ by: 'partner-demo', order: { sku: 'A-1' } })
    expect((await api('http://api.test/v1/orders')).status).toBe(200)
  })

  it('answers 403 to a read-only key, 401 to an unsigned request, 200 on the exempt health check', async () => {
    const denied = await createSignedFetch({ ...DEMO_READONLY, fetch: local as typeof fetch })('http://api.test/v1/orders', order)
    expect([denied.status, (await denied.json()).code]).toEqual([403, 'SCOPE_DENIED'])
    const unsigned = await app.request('http://api.test/v1/orders')
    expect([unsigned.status, (await unsigned.json()).code]).toEqual([401, 'SIGNATURE_MISSING'])
    expect((await app.request('http://api.test/healthz')).status).toBe(200)
  })
})

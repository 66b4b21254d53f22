import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSignedFetch } from '@sigil/client'
import { DEMO_PARTNER, DEMO_READONLY } from '@sigil-examples/demo-keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../src/app.js'

describe('examples/express', () => {
  let server: Server
  let base: string
  beforeAll(async () => {
    server = createApp().listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))

  const order = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: 'A-1' }) }

  it('creates and lists orders for a signed client; express.json() still parses the body', async () => {
    const api = createSignedFetch(DEMO_PARTNER)
    const created = await api(`${base}/v1/orders`, order)
    expect(created.status).toBe(201)
    expect(await created.json()).toMatchObject({ by: 'partner-demo', order: { sku: 'A-1' } })
    expect((await api(`${base}/v1/orders`)).status).toBe(200)
  })

  it('answers 403 to a read-only key, 401 to an unsigned request, 200 on the exempt health check', async () => {
    const denied = await createSignedFetch(DEMO_READONLY)(`${base}/v1/orders`, order)
    expect([denied.status, (await denied.json()).code]).toEqual([403, 'SCOPE_DENIED'])
    const unsigned = await fetch(`${base}/v1/orders`)
    expect([unsigned.status, (await unsigned.json()).code]).toEqual([401, 'SIGNATURE_MISSING'])
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
  })
})

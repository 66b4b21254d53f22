import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSignedFetch, signRequest } from '@sigil/client'
import { DEMO_PARTNER, DEMO_READONLY } from '@sigil-examples/demo-keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHandler } from '../src/app.js'
import { toRequest } from '../src/node-request.js'
import { GET, POST } from '../src/route.js'

const order = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: 'A-1' }) }

describe('examples/nextjs-route', () => {
  it('route handlers verify a signed Request and still read its body', async () => {
    const res = await POST(await signRequest(new Request('https://shop.example/v1/orders', order), DEMO_PARTNER))
    expect(res.status).toBe(201)
    expect(await res.json()).toMatchObject({ by: 'partner-demo', order: { sku: 'A-1' } })
    const denied = await POST(await signRequest(new Request('https://shop.example/v1/orders', order), DEMO_READONLY))
    expect([denied.status, (await denied.json()).code]).toEqual([403, 'SCOPE_DENIED'])
    expect((await GET(new Request('https://shop.example/v1/orders'))).status).toBe(401)
  })

  describe('served on node:http', () => {
    let server: Server
    let base: string
    beforeAll(async () => {
      const handle = createHandler()
      server = createServer(async (req, res) => {
        const response = await handle(toRequest(req))
        res.writeHead(response.status, Object.fromEntries(response.headers))
        res.end(Buffer.from(await response.arrayBuffer()))
      }).listen(0, '127.0.0.1')
      await new Promise((r) => server.once('listening', r))
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    })
    afterAll(() => new Promise<void>((r) => server.close(() => r())))

    it('accepts a signed client over a real socket', async () => {
      const api = createSignedFetch(DEMO_PARTNER)
      expect((await api(`${base}/v1/orders`, order)).status).toBe(201)
      expect((await api(`${base}/v1/orders?limit=5`)).status).toBe(200)
    })

    it('verifies the Host the client sent although request.url names localhost (as in Next)', async () => {
      // The client calls 127.0.0.1; the Request the route sees says localhost (issue 16).
      const api = createSignedFetch(DEMO_PARTNER)
      const res = await api(`${base}/v1/orders`, { method: 'DELETE' })
      expect([res.status, await res.json()]).toEqual([200, { by: 'partner-demo', deleted: true }])
    })
  })
})

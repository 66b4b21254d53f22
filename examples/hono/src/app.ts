import { requireScopes, type SigilOptions, sigil } from '@sigil/server/hono'
import { demoKeyStore } from '@sigil-examples/demo-keys'
import { Hono } from 'hono'

/**
 * The example API on Hono. The same app runs on Bun, Deno and Workers (`export default app`);
 * main.ts serves it on Node with @hono/node-server.
 */
export function createApp(options: Partial<SigilOptions> = {}) {
  const orders: unknown[] = []
  const app = new Hono()
  app.use(sigil({ keys: demoKeyStore, exempt: ['/healthz'], ...options }))
  app.get('/healthz', (c) => c.json({ ok: true }))
  app.get('/v1/orders', requireScopes('orders:read'), (c) => c.json({ by: c.get('sigil')?.principal, orders }))
  app.post('/v1/orders', requireScopes('orders:write'), async (c) => {
    const order = await c.req.json()
    orders.push(order)
    return c.json({ id: orders.length, by: c.get('sigil')?.principal, order }, 201)
  })
  return app
}

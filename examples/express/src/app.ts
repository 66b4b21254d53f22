import { requireScopes, type SigilOptions, sigil } from '@sigil/server/express'
import { demoKeyStore } from '@sigil-examples/demo-keys'
import express from 'express'

/**
 * The example API on Express: sigil() first (it reads the raw body and hands it on), then
 * express.json() as usual. `/healthz` is exempt. Options override the defaults (e.g.
 * `publicAuthority` behind a proxy).
 */
export function createApp(options: Partial<SigilOptions> = {}) {
  const orders: unknown[] = []
  const app = express()
  app.use(sigil({ keys: demoKeyStore, exempt: ['/healthz'], ...options }))
  app.use(express.json())
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true })
  })
  app.get('/v1/orders', requireScopes('orders:read'), (req, res) => {
    res.json({ by: req.sigil?.principal, orders })
  })
  app.post('/v1/orders', requireScopes('orders:write'), (req, res) => {
    orders.push(req.body)
    res.status(201).json({ id: orders.length, by: req.sigil?.principal, order: req.body })
  })
  return app
}

import { type SigilOptions, sigil } from '@sigil/server/fastify'
import { demoKeyStore } from '@sigil-examples/demo-keys'
import Fastify from 'fastify'

/**
 * The example API on Fastify: the plugin verifies before Fastify parses the body; scopes and the
 * health-check exemption are route config.
 */
export async function createApp(options: Partial<SigilOptions> = {}) {
  const orders: unknown[] = []
  const app = Fastify()
  await app.register(sigil, { keys: demoKeyStore, ...options })
  app.get('/healthz', { config: { sigil: false } }, async () => ({ ok: true }))
  app.get('/v1/orders', { config: { sigil: { scopes: ['orders:read'] } } }, async (req) => ({ by: req.sigil?.principal, orders }))
  app.post('/v1/orders', { config: { sigil: { scopes: ['orders:write'] } } }, async (req, reply) => {
    orders.push(req.body)
    return reply.code(201).send({ id: orders.length, by: req.sigil?.principal, order: req.body })
  })
  return app
}

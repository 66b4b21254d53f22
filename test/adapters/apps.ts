// The one app every adapter serves in the suite, written in each framework's own idiom:
//   POST|PUT /v1/orders  scope orders:write   GET /v1/orders   POST /v1/form (urlencoded)
//   POST /v1/admin       scope admin (403)     GET /healthz (exempt)
//   POST /v1/shop/carts  in a mounted router / prefixed plugin / sub-app
import { createServer } from 'node:http'
import { createAdaptorServer } from '@hono/node-server'
import type { Verified } from '@sigil/server'
import * as sigilExpress from '@sigil/server/express'
import * as sigilFastify from '@sigil/server/fastify'
import * as sigilHono from '@sigil/server/hono'
import express5 from 'express'
import express4 from 'express4'
import Fastify from 'fastify'
import { type Context, Hono } from 'hono'
import { listening, replyFrom, type Transport } from './fixtures.js'

type Options = sigilExpress.SigilOptions

export interface Harness {
  name: string
  start(options: Options, via: 'listen' | 'inject'): Promise<Transport>
  transports: Array<'listen' | 'inject'>
  /** The framework's body parsers read the body before Sigil does (express, parsers first). */
  parsersFirst?: boolean
}

const echo = (sigil: Verified | null | undefined, body: unknown, target: string) => ({
  principal: sigil?.principal ?? null,
  body: body ?? null,
  query: target.includes('?') ? target.slice(target.indexOf('?')) : '',
  bytes: sigil?.body?.byteLength ?? null,
})

/** Express 4 or 5, with sigil() mounted before or after the body parsers. */
export function expressApp(express: typeof express5, order: 'before' | 'after', options: Options) {
  const { sigil, sigilRawBody, requireScopes } = sigilExpress
  const verify = order === 'after' ? { verify: sigilRawBody() } : {}
  const parsers = [express.json(verify), express.urlencoded({ extended: false, ...verify })]
  const handler = (req: express5.Request, res: express5.Response) => {
    res.json(echo(req.sigil, req.body, req.originalUrl))
  }
  const app = express()
  const shop = express.Router()
  if (order === 'before') shop.use(sigil(options), ...parsers)
  else {
    app.use(...parsers)
    shop.use(sigil(options))
  }
  shop.post('/carts', handler)
  app.use('/v1/shop', shop)
  app.use(sigil(options))
  if (order === 'before') app.use(...parsers)
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true })
  })
  app.route('/v1/orders').get(handler).post(requireScopes('orders:write'), handler).put(requireScopes('orders:write'), handler)
  app.post('/v1/form', handler)
  app.post('/v1/admin', requireScopes('admin'), handler)
  return app
}

export const expressHarness = (major: 4 | 5, order: 'before' | 'after'): Harness => ({
  name: `express ${major} (sigil ${order} body parsers)`,
  transports: ['listen'],
  parsersFirst: order === 'after',
  start: async (options) => listening(createServer(expressApp(major === 4 ? express4 : express5, order, options))),
})

/** Fastify 5 with the plugin app-wide, a prefixed plugin, route config and a preHandler. */
export async function fastifyApp(options: Options) {
  const { sigil, requireScopes } = sigilFastify
  const app = Fastify()
  await app.register(sigil, options)
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)))
  })
  const handler = async (req: { sigil?: Verified | undefined; body: unknown; originalUrl: string }) =>
    echo(req.sigil, req.body, req.originalUrl)
  app.get('/healthz', async () => ({ ok: true }))
  app.get('/v1/orders', handler)
  app.route({ method: ['POST', 'PUT'], url: '/v1/orders', preHandler: requireScopes('orders:write'), handler })
  app.post('/v1/form', handler)
  app.post('/v1/admin', { config: { sigil: { scopes: ['admin'] } } }, handler)
  await app.register(
    async (shop) => {
      shop.post('/carts', handler)
    },
    { prefix: '/v1/shop' },
  )
  return app
}

export const fastifyHarness: Harness = {
  name: 'fastify 5',
  transports: ['listen', 'inject'],
  async start(options, via) {
    const app = await fastifyApp(options)
    if (via === 'listen') {
      await app.listen({ port: 0, host: '127.0.0.1' })
      const t = await listening(app.server)
      return { ...t, close: () => app.close() }
    }
    await app.ready()
    return {
      send: async (w) => {
        const res = await app.inject({
          method: w.method as 'GET',
          url: w.target,
          headers: w.headers,
          ...(w.body ? { payload: w.body } : {}),
        })
        return replyFrom(res.statusCode, new Headers(res.headers as Record<string, string>), res.rawPayload)
      },
      close: () => app.close(),
    }
  },
}

/** Hono with app-wide middleware and a sub-app mounted with app.route(). */
export function honoApp(options: Options) {
  const { sigil, requireScopes } = sigilHono
  const app = new Hono()
  const body = async (c: { req: { header(n: string): string | undefined; json(): Promise<unknown>; parseBody(): Promise<unknown> } }) => {
    const type = c.req.header('content-type') ?? ''
    if (type.includes('json')) return c.req.json()
    if (type.includes('form')) return c.req.parseBody()
    return null
  }
  const shop = new Hono()
  shop.use(sigil(options))
  shop.post('/carts', async (c) => c.json(echo(c.get('sigil'), await body(c), c.req.url)))
  app.route('/v1/shop', shop)
  app.use(sigil(options))
  app.get('/healthz', (c) => c.json({ ok: true }))
  const handler = async (c: Context) => c.json(echo(c.get('sigil'), await body(c), c.req.url))
  app.get('/v1/orders', handler)
  app.on(['POST', 'PUT'], '/v1/orders', requireScopes('orders:write'), handler)
  app.post('/v1/form', handler)
  app.post('/v1/admin', requireScopes('admin'), handler)
  return app
}

export const honoHarness: Harness = {
  name: 'hono',
  transports: ['listen', 'inject'],
  async start(options, via) {
    const app = honoApp(options)
    if (via === 'listen') return listening(createAdaptorServer({ fetch: app.fetch }) as import('node:http').Server)
    return {
      send: async (w) => {
        const res = await app.request(`http://${w.headers.host}${w.target}`, {
          method: w.method,
          headers: w.headers,
          ...(w.body ? { body: w.body as BodyInit } : {}),
        })
        return replyFrom(res.status, res.headers, new Uint8Array(await res.arrayBuffer()))
      },
      close: async () => {},
    }
  },
}

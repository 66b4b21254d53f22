// sendProblem (and the Fastify plugin) keep keep-alive connections for fully received requests
// and close them when a rejected request's body was left unread — also when the rejection is
// written synchronously, inside the request event, before the parser has marked a body-less
// request complete (synchronous stores).
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from '@sigil/core/internal'
import { sigil } from '@sigil/server/fastify'
import { withSigil } from '@sigil/server/node'
import Fastify from 'fastify'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

let server: Server
let origin: string
beforeAll(async () => {
  server = createServer(
    withSigil({ keys: { kKeepAlive001: randomBytes(32) } }, (_q, res) => {
      res.end('ok')
    }),
  )
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

describe('node adapter rejections and keep-alive', () => {
  it('a body-less rejected request keeps the connection', async () => {
    const res = await request(`${origin}/x`)
    expect(res.statusCode).toBe(401)
    expect(res.headers.connection).not.toBe('close')
    await res.body.dump()
  })
  it('a rejected request with an unread body closes it', async () => {
    const res = await request(`${origin}/x`, { method: 'POST', body: Buffer.alloc(256 * 1024) })
    expect(res.statusCode).toBe(401)
    expect(res.headers.connection).toBe('close')
    await res.body.dump()
  })
})

describe('fastify plugin rejections and keep-alive', () => {
  const app = Fastify()
  beforeAll(async () => {
    await app.register(sigil, { keys: { kKeepAlive002: randomBytes(32) } })
    app.all('/x', async () => 'ok')
    await app.listen({ host: '127.0.0.1', port: 0 })
  })
  afterAll(() => app.close())
  const url = () => `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/x`

  it('a body-less rejected request keeps the connection', async () => {
    const res = await request(url())
    expect(res.statusCode).toBe(401)
    expect(res.headers.connection).not.toBe('close')
    await res.body.dump()
  })
  it('a rejected request with an unread body closes it', async () => {
    const res = await request(url(), { method: 'POST', body: Buffer.alloc(256 * 1024) })
    expect(res.statusCode).toBe(401)
    expect(res.headers.connection).toBe('close')
    await res.body.dump()
  })
})

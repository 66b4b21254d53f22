import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { createApp } from '@sigil-examples/hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { callApi } from '../src/calls.js'

describe('examples/client against the hono example', () => {
  let server: ReturnType<typeof serve>
  let base: string
  beforeAll(async () => {
    server = serve({ fetch: createApp().fetch, port: 0, hostname: '127.0.0.1' })
    await new Promise((r) => server.once('listening', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))

  it('signs with createSignedFetch and the undici interceptor; the server tells them apart from unsigned calls', async () => {
    const outcomes = await callApi(base)
    expect(outcomes.map((o) => [o.via, o.call, o.status])).toEqual([
      ['createSignedFetch', 'POST /v1/orders', 201],
      ['createSignedFetch', 'GET /v1/orders?limit=10', 200],
      ['createSignedFetch (read-only key)', 'POST /v1/orders', 403],
      ['undici interceptor', 'POST /v1/orders', 201],
      ['undici interceptor', 'GET /v1/orders', 200],
      ['plain fetch (unsigned)', 'GET /v1/orders', 401],
    ])
  })
})

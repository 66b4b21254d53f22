// node:http parity with the framework adapters: exempt routes and listener-wide scopes on withSigil.
import { createServer } from 'node:http'
import { withSigil } from '@sigil/server/node'
import { afterEach, describe, expect, it } from 'vitest'
import { AUTHORITY, baseOptions, json, listening, signed, type Transport } from './fixtures.js'

describe('@sigil/server/node withSigil', () => {
  let t: Transport | undefined
  afterEach(async () => {
    await t?.close()
  })
  const start = async (requiredScopes: string[]) => {
    const listener = withSigil(
      baseOptions(),
      (_req, res, v) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ principal: v.principal }))
      },
      { requiredScopes, exempt: { routes: ['/healthz'], handler: (_req, res) => void res.end('ok') } },
    )
    t = await listening(createServer(listener))
    return t
  }

  it('verifies, exempts /healthz, and answers 403 when the listener scope is missing', async () => {
    const ok = await start(['orders:write'])
    expect((await ok.send(await signed('POST', `http://${AUTHORITY}/v1/orders`, json({ a: 1 })))).status).toBe(200)
    expect((await ok.send({ method: 'GET', target: '/healthz', headers: { host: AUTHORITY } })).status).toBe(200)
    expect((await ok.send({ method: 'GET', target: '/v1/orders', headers: { host: AUTHORITY } })).json.code).toBe('SIGNATURE_MISSING')
    await ok.close()
    const denied = await start(['admin'])
    const r = await denied.send(await signed('GET', `http://${AUTHORITY}/v1/orders`))
    expect([r.status, r.json.code]).toEqual([403, 'SCOPE_DENIED'])
  })
})

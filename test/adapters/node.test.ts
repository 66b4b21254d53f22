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
    // withSigil takes verify options first and its own (exempt, scopes) last.
    const { exempt: _, ...verifyOptions } = baseOptions()
    const listener = withSigil(
      verifyOptions,
      (_req, res, v) => {
        if (!v) return void res.end('ok') // an exempt route: verified is undefined, as req.sigil is elsewhere
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ principal: v.principal }))
      },
      { requiredScopes, exempt: ['/healthz'] },
    )
    t = await listening(createServer(listener))
    return t
  }

  it('verifies, exempts /healthz, and answers 403 when the listener scope is missing', async () => {
    const ok = await start(['orders:write'])
    expect((await ok.send(await signed('POST', `http://${AUTHORITY}/v1/orders`, json({ a: 1 })))).status).toBe(200)
    const health = await ok.send({ method: 'GET', target: '/healthz', headers: { host: AUTHORITY } })
    expect([health.status, health.text]).toEqual([200, 'ok'])
    expect((await ok.send({ method: 'GET', target: '/v1/orders', headers: { host: AUTHORITY } })).json.code).toBe('SIGNATURE_MISSING')
    await ok.close()
    const denied = await start(['admin'])
    const r = await denied.send(await signed('GET', `http://${AUTHORITY}/v1/orders`))
    expect([r.status, r.json.code]).toEqual([403, 'SCOPE_DENIED'])
  })

  it('takes exempt in the shape every adapter takes, and refuses the old { routes, handler } naming the new one', () => {
    expect(() =>
      withSigil({ keys: baseOptions().keys }, () => {}, { exempt: { routes: ['/healthz'], handler: () => {} } as never }),
    ).toThrow(expect.objectContaining({ name: 'ConfigurationError', message: expect.stringContaining('was replaced by `exempt: routes`') }))
  })
})

import { createServer } from 'node:http'
import { sigil } from '@sigil/server/express'
import express5 from 'express'
import express4 from 'express4'
import { describe, expect, it } from 'vitest'
import { expressHarness } from './apps.js'
import { AUTHORITY, baseOptions, json, listening, signed } from './fixtures.js'
import { adapterSuite } from './suite.js'

for (const major of [4, 5] as const) for (const order of ['before', 'after'] as const) adapterSuite(expressHarness(major, order))

describe.each([
  ['express 4', express4],
  ['express 5', express5],
])('%s: body consumed before sigil()', (_, express) => {
  it('app.use(sigil()) right after app.use(express.json()) moves in front of it: the POST works (issue 12 item 4)', async () => {
    const app = express()
    app.use(express.json())
    app.use(express.urlencoded({ extended: false }))
    app.use(sigil(baseOptions()))
    app.post('/v1/orders', (req, res) => {
      res.json({ by: req.sigil?.principal, body: req.body })
    })
    const t = await listening(createServer(app))
    try {
      const r = await t.send(await signed('POST', `http://${AUTHORITY}/v1/orders`, json({ a: 1 })))
      expect([r.status, r.json]).toEqual([200, { by: 'partner-a', body: { a: 1 } }])
      const tampered = await signed('POST', `http://${AUTHORITY}/v1/orders`, json({ a: 1 }))
      const bad = await t.send({ ...tampered, body: JSON.stringify({ a: 2 }) })
      expect(bad.json.code).toBe('DIGEST_MISMATCH')
    } finally {
      await t.close()
    }
  })

  it('fails closed (generic 500, detail in the server log) when the parser ran without sigilRawBody()', async () => {
    const app = express()
    app.use(express.json())
    app.use((_req, _res, next) => next())
    app.use(sigil(baseOptions()))
    app.post('/v1/orders', (_req, res) => {
      res.json({ accepted: true })
    })
    const t = await listening(createServer(app))
    try {
      const r = await t.send(await signed('POST', `http://${AUTHORITY}/v1/orders`, json({ a: 1 })))
      expect(r.status).toBe(500)
      // A configuration error is the server's problem: the caller gets a correlation id, not the detail.
      expect(r.json.code).toBe('INTERNAL_ERROR')
      expect(r.json.correlationId).toMatch(/^[0-9a-f-]{36}$/)
    } finally {
      await t.close()
    }
  })

  it('still reads bodies the parser skipped (other content types)', async () => {
    const app = express()
    app.use(express.json())
    app.use(sigil(baseOptions()))
    app.post('/v1/orders', (req, res) => {
      res.json({ bytes: req.sigil?.body?.byteLength })
    })
    const t = await listening(createServer(app))
    try {
      const r = await t.send(await signed('POST', `http://${AUTHORITY}/v1/orders`, { type: 'text/plain', text: 'hello' }))
      expect(r.status).toBe(200)
      expect(r.json.bytes).toBe(5)
    } finally {
      await t.close()
    }
  })
})

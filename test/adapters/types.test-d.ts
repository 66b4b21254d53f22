// Type-level checks (run by `tsc -p tsconfig.json`): each adapter's result is typed where its
// framework's users look for it.
import type { Verified } from '@sigil/server'
import { sigil as expressSigil, sigilRawBody } from '@sigil/server/express'
import { sigil as fastifySigil } from '@sigil/server/fastify'
import { sigil as honoSigil, type SigilEnv } from '@sigil/server/hono'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { expectTypeOf } from 'vitest'

const keys = { k: new Uint8Array(32) }

const e = express()
e.use(express.json({ verify: sigilRawBody() }), expressSigil({ keys }))
e.get('/', (req) => {
  expectTypeOf(req.sigil).toEqualTypeOf<Verified | undefined>()
})

const f = Fastify()
void f.register(fastifySigil, { keys, authority: 'api.example.com' })
f.get('/', { config: { sigil: { scopes: ['orders:read'] } } }, async (req) => {
  expectTypeOf(req.sigil).toEqualTypeOf<Verified | undefined>()
})
f.get('/healthz', { config: { sigil: false } }, async () => 'ok')

const h = new Hono<SigilEnv>()
h.use(honoSigil({ keys }))
h.get('/', (c) => {
  expectTypeOf(c.get('sigil')).toEqualTypeOf<Verified | undefined>()
  return c.text(c.get('sigil')?.principal ?? 'exempt')
})

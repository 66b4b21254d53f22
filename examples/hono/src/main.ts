// pnpm --filter @sigil-examples/hono start  (PORT=0 picks a free port; SIGIL_AUTHORITY behind a proxy)
import { serve } from '@hono/node-server'
import { createApp } from './app.js'

const authority = process.env.SIGIL_AUTHORITY
const app = createApp(authority ? { authority } : {})
serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 0), hostname: process.env.HOST ?? '127.0.0.1' }, (info) => {
  console.log(`hono example listening on http://${info.address}:${info.port}`)
})

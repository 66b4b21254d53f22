// pnpm --filter @sigil-examples/client start — calls SIGIL_API_URL, or starts the hono example on
// 127.0.0.1 and calls that.
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { createApp } from '@sigil-examples/hono'
import { callApi } from './calls.js'

let base = process.env.SIGIL_API_URL
let close = async () => {}
if (!base) {
  const server = serve({ fetch: createApp().fetch, port: 0, hostname: '127.0.0.1' })
  await new Promise((r) => server.once('listening', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  close = () => new Promise<void>((r) => server.close(() => r()))
  console.log(`started the hono example on ${base}`)
}
for (const o of await callApi(base)) {
  const detail = o.status < 300 ? JSON.stringify(o.body) : (o.body as { code?: string }).code
  console.log(`${String(o.status).padEnd(4)} ${o.via.padEnd(34)} ${o.call.padEnd(26)} ${detail}`)
}
await close()

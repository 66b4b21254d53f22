// pnpm --filter @sigil-examples/fastify start  (PORT=0 picks a free port; SIGIL_AUTHORITY behind a proxy)
import { createApp } from './app.js'

const authority = process.env.SIGIL_AUTHORITY
const app = await createApp(authority ? { authority } : {})
const url = await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' })
console.log(`fastify example listening on ${url}`)

// pnpm --filter @sigil-examples/fastify start  (PORT=0 picks a free port; SIGIL_PUBLIC_AUTHORITY behind a proxy)
import { createApp } from './app.js'

const publicAuthority = process.env.SIGIL_PUBLIC_AUTHORITY
const app = await createApp(publicAuthority ? { publicAuthority } : {})
const url = await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' })
console.log(`fastify example listening on ${url}`)

// pnpm --filter @sigil-examples/express start  (PORT=0 picks a free port; SIGIL_AUTHORITY behind a proxy)
import type { AddressInfo } from 'node:net'
import { createApp } from './app.js'

const authority = process.env.SIGIL_AUTHORITY
const server = createApp(authority ? { authority } : {}).listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address() as AddressInfo
  console.log(`express example listening on http://${address}:${port}`)
})

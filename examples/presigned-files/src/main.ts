// pnpm --filter @sigil-examples/presigned-files start  (PORT=0 picks a free port)
import type { AddressInfo } from 'node:net'
import { createApp } from './app.js'

const server = createApp().listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address() as AddressInfo
  console.log(`presigned-files example listening on http://${address}:${port}`)
})

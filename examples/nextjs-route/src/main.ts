// pnpm --filter @sigil-examples/nextjs-route start — serves the route handlers on node:http without a
// Next build (PORT=0 picks a free port).
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHandler } from './app.js'
import { toRequest } from './node-request.js'

const handle = createHandler()
const server = createServer(async (req, res) => {
  const response = await handle(toRequest(req))
  res.writeHead(response.status, Object.fromEntries(response.headers))
  res.end(Buffer.from(await response.arrayBuffer()))
})
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address() as AddressInfo
  console.log(`nextjs-route example listening on http://${address}:${port}/v1/orders`)
})

export { server }

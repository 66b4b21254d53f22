// One server under load, in its own process: `tsx --conditions=source server-child.ts <kind>`.
// Prints `port <n>` once listening; answers every POST with a small JSON body.
// Per framework the three kinds answer alike (same route, same response); what differs is what
// runs before the handler. plain: nothing. floor: the app reads the body itself (node: `for await`
// over req + Buffer.concat, the idiomatic read; Fastify: the same in a preParsing hook, then a
// pushed Readable of the bytes for the parsers; Express: express.json's `verify` hook, which sees
// the bytes the parser read) and runs floorCheck. sigil: the adapter reads and digests the body
// and verifies; the parsers then read the same bytes.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { Session } from 'node:inspector/promises'
import { Readable } from 'node:stream'
import { verifyNodeRequest } from '@sigil/server/node'
import Fastify from 'fastify'
import { KEY_ID } from './fixtures.js'

const kind = process.argv[2] as string
const secret = Buffer.from(process.env.BENCH_SECRET as string, 'base64')
const baseLength = Number(process.env.BENCH_BASE_LENGTH ?? 330)
const options = { keys: { [KEY_ID]: new Uint8Array(secret) } }
const reply = JSON.stringify({ ok: true })

// The floor verifier: what any HMAC scheme must at least do per request (fixed string, so it
// cannot fail; the cost is the point).
const floorString = 'x'.repeat(baseLength)
const floorMac = createHmac('sha256', secret).update(floorString).digest()
function floorCheck(body: Buffer): void {
  createHash('sha256').update(body).digest()
  if (!timingSafeEqual(createHmac('sha256', secret).update(floorString).digest(), floorMac)) throw new Error('floor')
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of req) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

async function nodeHandler(req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    if (kind === 'node-sigil') {
      const v = await verifyNodeRequest(req, options)
      JSON.parse(Buffer.from(v.body ?? new Uint8Array()).toString() || 'null')
    } else {
      const body = await readBody(req)
      if (kind === 'node-floor') floorCheck(body)
      JSON.parse(body.toString() || 'null')
    }
    send(res, 200, reply)
  } catch (e) {
    send(res, (e as { status?: number }).status ?? 500, JSON.stringify({ code: (e as { code?: string }).code ?? 'ERR' }))
  }
}

async function startFastify(): Promise<number> {
  const app = Fastify({ logger: false })
  if (kind === 'fastify-sigil') {
    const { sigil } = await import('@sigil/server/fastify')
    await app.register(sigil, options)
  } else if (kind === 'fastify-floor') {
    app.addHook('preParsing', async (_request, _reply, payload) => {
      const parts: Buffer[] = []
      for await (const c of payload) parts.push(c as Buffer)
      const body = Buffer.concat(parts)
      floorCheck(body)
      // The parsers get the bytes as Sigil's plugin hands them on (a pushed Readable), not through
      // Readable.from, whose iterator read costs a promise per read.
      const again = new Readable({ read() {} })
      again.push(body)
      again.push(null)
      return again
    })
  }
  app.post('/v1/orders', async () => ({ ok: true }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  return (app.server.address() as { port: number }).port
}

// Express: every kind parses with express.json(). The floor is the usual raw-body HMAC in Express
// (the parser's `verify` hook sees the bytes it read: one read, no replay); Sigil is mounted in
// front of the parser, reads and digests the body, and hands the parser the same bytes again.
async function startExpress(): Promise<number> {
  const { default: express } = await import('express')
  const app = express()
  if (kind === 'express-sigil') {
    const { sigil } = await import('@sigil/server/express')
    app.use(sigil(options))
    app.use(express.json())
  } else if (kind === 'express-floor') app.use(express.json({ verify: (_req, _res, buf) => floorCheck(buf) }))
  else app.use(express.json())
  app.post('/v1/orders', (_req, res) => {
    res.json({ ok: true })
  })
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return (server.address() as { port: number }).port
}

let port: number
if (kind.startsWith('fastify')) port = await startFastify()
else if (kind.startsWith('express')) port = await startExpress()
else {
  const server = createServer((req, res) => void nodeHandler(req, res))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  port = (server.address() as { port: number }).port
}
process.stdout.write(`port ${port}\n`)
// `{ profile: 'start' }` / `{ profile: 'stop', file }`: a CPU profile of the measured window only
// (not start-up), for `top-frames.ts`.
let profiler: Session | undefined
process.on('message', (m) => {
  if (m === 'rss') process.send?.({ maxRss: process.resourceUsage().maxRSS * 1024 })
  if (m === 'cpu') {
    const u = process.cpuUsage()
    process.send?.({ cpuUs: u.user + u.system })
  }
  const p = m as { profile?: 'start' | 'stop'; file?: string }
  if (p.profile === 'start') {
    profiler = new Session()
    profiler.connect()
    void profiler
      .post('Profiler.enable')
      .then(() => profiler?.post('Profiler.start'))
      .then(() => process.send?.({ profiling: true }))
  }
  if (p.profile === 'stop' && profiler)
    void profiler.post('Profiler.stop').then(({ profile }) => {
      writeFileSync(p.file as string, JSON.stringify(profile))
      process.send?.({ profiled: p.file })
    })
})
process.on('SIGTERM', () => process.exit(0))

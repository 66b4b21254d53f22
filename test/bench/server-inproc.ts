// A node:http server's CPU per request without the kernel or the load generator: requests are
// written into an in-memory connection (`server.emit('connection', duplex)`), one at a time, and
// the server's answer is awaited. What is left is node's HTTP parser and response writer plus the
// handler: node-sigil (verifyNodeRequest) vs node-floor (for-await body read + the floor checks),
// the same handlers as server-child.ts. Rounds alternate the two; prints µs/request (process CPU)
// per round and the median ratio. Far steadier on a shared machine than server-ab.ts, but it is
// not the socket path (the parser is not in consume mode: bodies reach the handler in the same
// callback as the headers). `tsx --conditions=source test/bench/server-inproc.ts [--n=20000] [--rounds=7]
// [--floor-read=events]` (under tsx Sigil's closures pay keepNames; bundle it for absolute figures).
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { Duplex } from 'node:stream'
import { contentDigest } from '@sigil/core'
import { type HeaderSource, requestFromUrl } from '@sigil/core/internal'
import { verifyNodeRequest } from '@sigil/server/node'
import { resolveSigner } from '../../packages/client/src/options.js'
import { signViewSync } from '../../packages/client/src/sign-request.js'
import { CONTENT_TYPE, jsonBody, KEY_ID, SECRET, SECRET_BUFFER } from './fixtures.js'
import { sigilBaseLength } from './impls.js'

const args = process.argv.slice(2)
const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
const n = Number(value('n') ?? 20000)
const rounds = Number(value('rounds') ?? 7)
const body = jsonBody(1024)
const options = { keys: { [KEY_ID]: new Uint8Array(SECRET_BUFFER) } }
const reply = JSON.stringify({ ok: true })
const floorString = 'x'.repeat(await sigilBaseLength(Buffer.from(body)))
const floorMac = createHmac('sha256', SECRET_BUFFER).update(floorString).digest()
function floorCheck(b: Buffer): void {
  createHash('sha256').update(b).digest()
  if (!timingSafeEqual(createHmac('sha256', SECRET_BUFFER).update(floorString).digest(), floorMac)) throw new Error('floor')
}
/** The floor's body read with events instead of an async iterator (`--floor-read=events`). */
function readBodyEvents(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    req.on('data', (c: Buffer) => parts.push(c))
    req.on('end', () => resolve(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)))
    req.on('error', reject)
  })
}
const floorRead = value('floor-read') === 'events' ? readBodyEvents : readBody
async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of req) parts.push(c as Buffer)
  return Buffer.concat(parts)
}
function send(res: ServerResponse, status: number, b: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) })
  res.end(b)
}
const handler = (kind: string) => async (req: IncomingMessage, res: ServerResponse) => {
  try {
    if (kind === 'node-sigil') {
      const v = await verifyNodeRequest(req, options)
      JSON.parse(Buffer.from(v.body ?? new Uint8Array()).toString() || 'null')
    } else {
      const b = await floorRead(req)
      floorCheck(b)
      JSON.parse(b.toString() || 'null')
    }
    send(res, 200, reply)
  } catch (e) {
    send(res, (e as { status?: number }).status ?? 500, JSON.stringify({ code: (e as { code?: string }).code ?? 'ERR' }))
  }
}

/** An in-memory connection: `request(bytes)` writes a request and resolves with the status line once the answer is written. */
class Conn extends Duplex {
  private waiting: ((s: string) => void) | undefined
  _read(): void {}
  _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.waiting?.(chunk.toString('latin1', 0, 12))
    this.waiting = undefined
    cb()
  }
  _writev(chunks: { chunk: Buffer }[], cb: () => void): void {
    this.waiting?.((chunks[0] as { chunk: Buffer }).chunk.toString('latin1', 0, 12))
    this.waiting = undefined
    cb()
  }
  request(bytes: Buffer): Promise<string> {
    return new Promise((resolve) => {
      this.waiting = resolve
      this.push(bytes)
    })
  }
}

const signer = resolveSigner({ keyId: KEY_ID, secret: SECRET })
const url = 'http://127.0.0.1:8080/v1/orders?b=2&a=1'
const digest = contentDigest(body)
function signed(): Buffer {
  const headers: Record<string, string> = { 'content-type': CONTENT_TYPE, 'content-digest': digest }
  const source: HeaderSource = { get: (k) => headers[k] ?? null }
  const s = signViewSync(requestFromUrl('POST', url, source), true, signer)
  const head = [
    'POST /v1/orders?b=2&a=1 HTTP/1.1',
    'Host: 127.0.0.1:8080',
    'Connection: keep-alive',
    `content-type: ${CONTENT_TYPE}`,
    `content-digest: ${digest}`,
    `signature-input: ${s.signatureInput}`,
    `signature: ${s.signature}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
  ]
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), Buffer.from(body)])
}

const conns = new Map<string, Conn>()
for (const kind of ['node-sigil', 'node-floor']) {
  const server = createServer(handler(kind))
  const conn = new Conn()
  server.emit('connection', conn)
  conns.set(kind, conn)
}
async function run(kind: string, count: number): Promise<number> {
  const conn = conns.get(kind) as Conn
  const reqs = Array.from({ length: count }, signed)
  const c0 = process.cpuUsage()
  for (const r of reqs) {
    const status = await conn.request(r)
    if (status !== 'HTTP/1.1 200') throw new Error(`${kind}: ${status}`)
  }
  const c = process.cpuUsage(c0)
  return (c.user + c.system) / count
}
for (const kind of conns.keys()) await run(kind, n)
const per = new Map<string, number[]>([...conns.keys()].map((k) => [k, []]))
for (let r = 0; r < rounds; r++)
  for (const kind of r % 2 ? [...conns.keys()].reverse() : conns.keys()) per.get(kind)?.push(await run(kind, n))
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number
const s = per.get('node-sigil') as number[]
const f = per.get('node-floor') as number[]
console.log(`node-sigil µs/req: ${s.map((x) => x.toFixed(1)).join(' ')}`)
console.log(`node-floor µs/req: ${f.map((x) => x.toFixed(1)).join(' ')}`)
console.log(
  `median: sigil ${med(s).toFixed(1)}, floor ${med(f).toFixed(1)}, sigil/floor ${(100 * med(s.map((x, i) => x / (f[i] as number)))).toFixed(0)}%`,
)

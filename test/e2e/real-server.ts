// A real node:http API on 127.0.0.1 for the client tests: every request goes through
// verifyNodeRequest, every answer to a verified request is signed (SPEC §5), and the routes below
// redirect, compress, fail once, or echo what arrived (method, target, content-type, body bytes).
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import { randomBytes } from '@sigil/core/internal'
import { createMemoryNonceStore, createVerifier, responseSignatureHeaders, type Verifier, type VerifyOptions } from '@sigil/server'
import { sendProblem, signNodeResponse, verifyNodeRequest } from '@sigil/server/node'

export interface Echo {
  method: string
  url: string
  contentType: string | null
  body: string
  sha256: string
  length: number
}

/** What arrived at a server, signed or not, for redirect and leak checks. */
export interface Hit {
  method: string
  url: string
  signed: boolean
}

export interface RealServer {
  origin: string
  keyId: string
  secret: Uint8Array
  verifier: Verifier
  hits: Hit[]
  close(): Promise<void>
}

const COMPRESS: Record<string, (b: Buffer) => Buffer> = { gzip: gzipSync, br: brotliCompressSync, deflate: deflateSync }

function reply(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(body)
}

/** Start the API. `other` (optional) is another origin the `/to-other` route redirects to. */
export async function startApi(options: Partial<VerifyOptions> = {}, other?: () => string): Promise<RealServer> {
  const keyId = `kE2e${Buffer.from(randomBytes(6)).toString('hex')}`
  const secret = randomBytes(32)
  const verifier = createVerifier({ keys: { [keyId]: secret }, nonceStore: createMemoryNonceStore(), ...options })
  const hits: Hit[] = []
  const failedOnce = new Set<string>()
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    hits.push({ method: req.method ?? '', url: req.url ?? '', signed: req.headers.signature !== undefined })
    const u = new URL(req.url ?? '/', 'http://x')
    let v: Awaited<ReturnType<typeof verifyNodeRequest>>
    try {
      v = await verifyNodeRequest(req, verifier)
    } catch (e) {
      sendProblem(res, e)
      return
    }
    if (u.pathname === '/lie') {
      // Signed over one body, sends another (same length): what tampering on the way looks like.
      const reqHeaders = { get: (n: string) => req.headersDistinct[n]?.join(', ') ?? null }
      const h = await responseSignatureHeaders(
        200,
        new Headers({ 'content-type': 'application/json' }),
        Buffer.from('{"a":1}'),
        v,
        reqHeaders,
        {
          verifier,
        },
      )
      return reply(res, 200, '{"a":2}', h)
    }
    signNodeResponse(res, v, req, { verifier })
    const to = u.searchParams.get('to')
    const status = Number(u.searchParams.get('status') ?? 307)
    if (u.pathname === '/redirect' && to) return reply(res, status, '{}', { location: to })
    if (u.pathname === '/loop') return reply(res, 302, '{}', { location: '/loop' })
    if (u.pathname === '/to-other' && other) return reply(res, status, '{}', { location: `${other()}/landed` })
    if (u.pathname === '/flaky') {
      // Fails the first attempt of each id with a 503 *after* accepting it (its nonce is spent).
      const id = u.searchParams.get('id') ?? ''
      if (!failedOnce.has(id)) {
        failedOnce.add(id)
        return reply(res, 503, '{"retry":true}')
      }
    }
    let enc = u.searchParams.get('encoding')
    // /negotiated honours Accept-Encoding; every other route compresses when asked to.
    if (u.pathname === '/negotiated' && enc && !(req.headers['accept-encoding'] ?? '').includes(enc)) enc = null
    const body = v.body ? Buffer.from(v.body) : Buffer.alloc(0)
    const echo: Echo = {
      method: req.method ?? '',
      url: req.url ?? '',
      contentType: req.headers['content-type'] ?? null,
      body: body.toString('latin1'),
      sha256: createHash('sha256').update(body).digest('hex'),
      length: body.length,
    }
    const json = Buffer.from(JSON.stringify(echo))
    const size = Number(u.searchParams.get('size') ?? 0)
    const payload = size ? Buffer.alloc(size, 0x61) : json
    if (enc && COMPRESS[enc]) return reply(res, 200, (COMPRESS[enc] as (b: Buffer) => Buffer)(payload), { 'content-encoding': enc })
    return reply(res, 200, payload)
  }
  const server: Server = createServer((req, res) => void handle(req, res))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    keyId,
    secret,
    verifier,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/** Another origin that records what reaches it (signature headers included) and answers 200. */
export async function startRecorder(): Promise<{ origin: string; hits: Hit[]; close(): Promise<void> }> {
  const hits: Hit[] = []
  const server = createServer((req, res) => {
    hits.push({
      method: req.method ?? '',
      url: req.url ?? '',
      signed: req.headers.signature !== undefined || req.headers['signature-input'] !== undefined,
    })
    req.resume()
    req.on('end', () => reply(res, 200, '{"other":true}'))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

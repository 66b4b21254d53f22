// One tiny app per adapter (node, express 4 and 5, fastify over HTTP/1.1 and HTTP/2, hono on
// @hono/node-server, verify(Request) as Next.js builds the Request), and a raw-socket sender, so
// the adversarial classes of issue 10 run against every adapter through real sockets. Each app
// answers 200 with what the application saw: who signed, the host, the routed path, body bytes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createH2Server, connect as h2connect } from 'node:http2'
import { connect } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import { problemResponse, type Verified, verify } from '@sigil/server'
import * as sx from '@sigil/server/express'
import * as sf from '@sigil/server/fastify'
import * as sh from '@sigil/server/hono'
import { withSigil } from '@sigil/server/node'
import express5 from 'express'
import express4 from 'express4'
import Fastify, { type FastifyInstance } from 'fastify'
import { Hono } from 'hono'
import { toRequest } from '../../examples/nextjs-route/src/node-request.js'
import type { Wire } from './harness.js'

export type AdapterName = 'node' | 'express4' | 'express5' | 'fastify' | 'fastify-h2' | 'hono' | 'web'
export const ADAPTERS: AdapterName[] = ['node', 'express4', 'express5', 'fastify', 'hono', 'web']
/** Adapters with a notion of stacked middleware (a second sigil() on a sub-router). */
export const STACKABLE: AdapterName[] = ['express4', 'express5', 'fastify', 'hono']
/** Adapters with an `exempt` option. */
export const EXEMPTING: AdapterName[] = ['node', 'express4', 'express5', 'fastify', 'hono']

export interface AppSpec {
  options: sx.SigilOptions
  /** A sub-router at `prefix` with its own sigil(`options`) stacked under the app-wide one. */
  inner?: { prefix: string; options: sx.SigilOptions }
}

export interface Running {
  port: number
  close(): Promise<void>
}

interface Seen {
  principal: string | null
  /** `inner` when the stacked sub-router's handler answered. */
  area?: 'inner' | 'outer'
  host: string | null
  path: string
  bytes: number
}

function listen(server: Server): Promise<Running> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      resolve({
        port,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections?.()
            server.close(() => r())
          }),
      })
    })
  })
}

const send = (res: ServerResponse, seen: Seen) => {
  const text = JSON.stringify(seen)
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

async function drain(req: IncomingMessage): Promise<number> {
  let n = 0
  for await (const c of req) n += (c as Buffer).byteLength
  return n
}

function expressApp(express: typeof express5, spec: AppSpec) {
  const app = express()
  const handlerIn = (area: 'inner' | 'outer') => (req: express5.Request, res: express5.Response) => {
    res.json({
      area,
      principal: req.sigil?.principal ?? null,
      host: req.headers.host ?? null,
      path: req.path,
      bytes: Buffer.isBuffer(req.body) ? req.body.byteLength : 0,
    } satisfies Seen)
  }
  app.use(sx.sigil(spec.options))
  app.use(express.raw({ type: () => true, limit: '1mb' }))
  if (spec.inner) {
    const inner = express.Router()
    inner.use(sx.sigil(spec.inner.options))
    inner.use(handlerIn('inner'))
    app.use(spec.inner.prefix, inner)
  }
  app.use(handlerIn('outer'))
  return app
}

async function fastifyApp(spec: AppSpec, http2: boolean) {
  const app = (http2 ? Fastify({ http2: true }) : Fastify()) as unknown as FastifyInstance
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
  await app.register(sf.sigil, spec.options)
  const handlerIn =
    (area: 'inner' | 'outer') =>
    async (req: { sigil?: Verified | undefined; headers: Record<string, unknown>; url: string; body: unknown }) =>
      ({
        area,
        principal: req.sigil?.principal ?? null,
        host: (req.headers.host as string | undefined) ?? (req.headers[':authority'] as string | undefined) ?? null,
        path: req.url.split('?')[0] as string,
        bytes: Buffer.isBuffer(req.body) ? req.body.byteLength : 0,
      }) satisfies Seen
  const inner = spec.inner
  if (inner) {
    await app.register(async (child) => {
      await child.register(sf.sigil, inner.options)
      child.all(`${inner.prefix}/*`, handlerIn('inner'))
    })
  }
  app.all('/*', handlerIn('outer'))
  await app.ready()
  return app
}

function honoApp(spec: AppSpec) {
  const app = new Hono()
  const handlerIn = (area: 'inner' | 'outer') => async (c: import('hono').Context) =>
    c.json({
      area,
      principal: c.get('sigil')?.principal ?? null,
      host: c.req.header('host') ?? null,
      path: c.req.path,
      bytes: (await c.req.arrayBuffer()).byteLength,
    } satisfies Seen)
  app.use(sh.sigil(spec.options))
  if (spec.inner) {
    const sub = new Hono()
    sub.use(sh.sigil(spec.inner.options))
    sub.all('*', handlerIn('inner'))
    app.route(spec.inner.prefix, sub)
  }
  app.all('*', handlerIn('outer'))
  return app
}

/** Start `name` serving `spec` on 127.0.0.1:0. */
export async function startApp(name: AdapterName, spec: AppSpec): Promise<Running> {
  const { exempt, signResponses, ...options } = spec.options
  switch (name) {
    case 'node': {
      const listener = withSigil(
        options,
        async (req, res, v) =>
          send(res, {
            principal: v?.principal ?? null,
            host: req.headers.host ?? null,
            path: req.url ?? '',
            bytes: v ? (v.body?.byteLength ?? 0) : await drain(req),
          }),
        { exempt: exempt ?? [] },
      )
      return listen(createServer(listener))
    }
    case 'express4':
      return listen(createServer(expressApp(express4 as unknown as typeof express5, spec)))
    case 'express5':
      return listen(createServer(expressApp(express5, spec)))
    case 'fastify':
    case 'fastify-h2': {
      const app = await fastifyApp(spec, name === 'fastify-h2')
      await app.listen({ port: 0, host: '127.0.0.1' })
      return { port: (app.server.address() as { port: number }).port, close: () => app.close() }
    }
    case 'hono':
      return listen(createAdaptorServer({ fetch: honoApp(spec).fetch }) as Server)
    case 'web': {
      // verify(Request) as a Next.js route handler calls it, on the Request Next builds.
      return listen(
        createServer(async (req, res) => {
          let response: Response
          try {
            const request = toRequest(req)
            const v = await verify(request, options)
            const bytes = (await request.arrayBuffer()).byteLength
            response = Response.json({
              principal: v.principal,
              host: request.headers.get('host'),
              path: new URL(request.url).pathname,
              bytes,
            })
          } catch (e) {
            response = problemResponse(e)
          }
          res.writeHead(response.status, Object.fromEntries(response.headers))
          res.end(Buffer.from(await response.arrayBuffer()))
        }),
      )
    }
  }
}

/** A node:http2 server (cleartext) running withSigil, for HTTP/2 framing. */
export async function startH2Node(spec: AppSpec): Promise<Running> {
  const { exempt: _e, signResponses: _s, ...options } = spec.options
  const listener = withSigil(options, (_req, res, v) =>
    send(res, { principal: v?.principal ?? null, host: null, path: '', bytes: v?.body?.byteLength ?? 0 }),
  )
  const server = createH2Server((req, res) => void listener(req as unknown as IncomingMessage, res as unknown as ServerResponse))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { port: (server.address() as { port: number }).port, close: () => new Promise<void>((r) => server.close(() => r())) }
}

export interface Answer {
  status: number
  /** The problem code, `ok` for a 200, or `HTTP_<status>` without a code. */
  code: string
  seen?: Seen
}

function answerOf(status: number, text: string): Answer {
  if (status === 200) {
    try {
      return { status, code: 'ok', seen: JSON.parse(text) as Seen }
    } catch {
      return { status, code: 'ok' }
    }
  }
  return { status, code: /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? `HTTP_${status}` }
}

export type Framing = 'content-length' | 'chunked' | 'none' | 'content-length-0'

/** The bytes of an HTTP/1.1 request, header lines exactly as given. */
export function rawBytes(w: Wire, framing: Framing = w.body ? 'content-length' : 'none'): Buffer {
  let head = `${w.method} ${w.target} HTTP/1.1\r\n`
  for (const [k, v] of w.headers) if (!/^(content-length|transfer-encoding|connection)$/i.test(k)) head += `${k}: ${v}\r\n`
  const body = w.body ? Buffer.from(w.body) : Buffer.alloc(0)
  let tail = Buffer.alloc(0)
  if (framing === 'content-length') {
    head += `Content-Length: ${body.byteLength}\r\n`
    tail = body
  } else if (framing === 'content-length-0') head += 'Content-Length: 0\r\n'
  else if (framing === 'chunked') {
    head += 'Transfer-Encoding: chunked\r\n'
    tail = body.byteLength
      ? Buffer.concat([Buffer.from(`${body.byteLength.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')])
      : Buffer.from('0\r\n\r\n')
  }
  return Buffer.concat([Buffer.from(`${head}Connection: close\r\n\r\n`, 'latin1'), tail])
}

/** Write raw bytes to 127.0.0.1:port and read the answer until the server closes. */
export function sendRaw(port: number, bytes: Buffer): Promise<Answer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = []
    const s = connect(port, '127.0.0.1', () => s.end(bytes))
    s.on('data', (d) => parts.push(d))
    s.on('error', () => {})
    s.on('close', () => {
      const text = Buffer.concat(parts).toString('utf8')
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1])
      if (!status) return resolve({ status: 0, code: 'CONNECTION_CLOSED' })
      const body = text.slice(text.indexOf('\r\n\r\n') + 4)
      // A chunked answer: take the JSON inside the chunk.
      const json = body.includes('{') ? body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1) : body
      resolve(answerOf(status, json))
    })
  })
}

/** Send over HTTP/2 (cleartext), headers as given; `body` goes in DATA frames, no Content-Length. */
export function sendH2(port: number, w: Wire, body: Uint8Array | null): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const client = h2connect(`http://127.0.0.1:${port}`)
    client.on('error', reject)
    const headers: Record<string, string> = { ':method': w.method, ':path': w.target }
    for (const [k, v] of w.headers) if (!/^(content-length|transfer-encoding|connection)$/i.test(k)) headers[k.toLowerCase()] = v
    const stream = client.request(headers, { endStream: body === null })
    const parts: Buffer[] = []
    let status = 0
    stream.on('response', (h) => {
      status = Number(h[':status'])
    })
    stream.on('data', (c: Buffer) => parts.push(c))
    stream.on('error', () => {})
    stream.on('close', () => {
      client.close()
      resolve(status ? answerOf(status, Buffer.concat(parts).toString('utf8')) : { status: 0, code: 'STREAM_RESET' })
    })
    if (body !== null) stream.end(Buffer.from(body))
  })
}

// Shared pieces of the adapter suite: the keys, a signer, and two ways to put a request on the
// wire (a real socket on 127.0.0.1, or the framework's own inject helper).
import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { signRequest } from '@sigil/client'
import { bodyEncryption } from '@sigil/client/encrypted'
import type { KeyRecord } from '@sigil/core'
import { randomBytes } from '@sigil/core/internal'
import type { SigilOptions } from '@sigil/server/express'

export const secret = randomBytes(32)
export const keyId = 'kAdapterSuite01'
export const AUTHORITY = 'api.test'

const key: KeyRecord = {
  keyId,
  secret,
  principal: 'partner-a',
  scopes: ['orders:read', 'orders:write'],
  status: 'active',
  createdAt: new Date(0),
}

/** Options every suite app starts from; tests add authority, trustProxy, signatureLimits. */
export function baseOptions(over: Partial<SigilOptions> = {}): SigilOptions {
  return { keys: { get: (id) => (id === keyId ? key : undefined) }, maxBodyBytes: 4096, exempt: ['/healthz'], ...over }
}

/** A request as it goes on the wire: raw target, every header, bytes. */
export interface Wire {
  method: string
  target: string
  headers: Record<string, string>
  body?: string | Buffer
}

export interface Reply {
  status: number
  headers: Headers
  // biome-ignore lint/suspicious/noExplicitAny: test responses are checked field by field
  json: any
  text: string
  /** The body's bytes, as sent (an encrypted answer is not text). */
  bytes?: Uint8Array
}

export type Send = (w: Wire) => Promise<Reply>

export interface Transport {
  send: Send
  /** Present on real servers: where to open a socket by hand. */
  port?: number
  close(): Promise<void>
}

/** Sign a request for `url` and return it as wire parts (Host = the URL's authority). */
export async function signed(
  method: string,
  url: string,
  body?: { type: string; text: string },
  o: { now?: () => number; encryptBody?: boolean } = {},
): Promise<Wire> {
  const u = new URL(url)
  const init: RequestInit = { method, ...(body ? { body: body.text, headers: { 'content-type': body.type } } : {}) }
  const req = await signRequest(new Request(url, init), {
    keyId,
    secret,
    ...(o.now ? { now: o.now } : {}),
    ...(o.encryptBody ? { encryptBody: bodyEncryption() } : {}),
  })
  const headers: Record<string, string> = { host: u.host }
  req.headers.forEach((v, k) => {
    headers[k] = v
  })
  // Encrypted (SPEC §8), the bytes sent are the ciphertext.
  const sent = body ? (o.encryptBody ? Buffer.from(await req.arrayBuffer()) : body.text) : undefined
  if (sent !== undefined) headers['content-length'] = String(Buffer.byteLength(sent))
  return { method, target: u.pathname + u.search, headers, ...(sent !== undefined ? { body: sent } : {}) }
}

export const json = (v: unknown) => ({ type: 'application/json', text: JSON.stringify(v) })

function toHeaders(h: IncomingHttpHeaders | Record<string, string | string[] | number | undefined>): Headers {
  const out = new Headers()
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(', ') : String(v))
  return out
}

function parse(text: string) {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** Send over a fresh socket, headers exactly as given (Host included). */
export function sendTo(port: number): Send {
  return (w) =>
    new Promise((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: w.method,
        path: w.target,
        headers: w.headers,
        agent: false,
        setHost: false,
      })
      req.on('error', reject)
      req.on('response', (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          resolve(replyFrom(res.statusCode ?? 0, toHeaders(res.headers), Buffer.concat(chunks)))
        })
      })
      req.end(w.body)
    })
}

/** Listen on 127.0.0.1:0 and talk to it over real sockets. */
export async function listening(server: Server): Promise<Transport> {
  if (!server.listening) await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    send: sendTo(port),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections?.()
        server.close(() => r())
      }),
  }
}

/**
 * Send headers promising `declared` bytes but write only `written`, and wait for the answer:
 * resolves only if the server answers without reading the whole body.
 */
export function sendPartial(port: number, w: Wire, written: string, chunked = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: w.method, path: w.target, headers: w.headers, agent: false, setHost: false })
    req.on('error', (e) => (/ECONNRESET|EPIPE/.test(String(e)) ? undefined : reject(e)))
    req.on('response', (res) => {
      resolve(res.statusCode ?? 0)
      res.resume()
      req.destroy()
    })
    if (chunked) req.setHeader('transfer-encoding', 'chunked')
    req.flushHeaders()
    req.write(written)
  })
}

/** Frameworks' own request helpers (fastify.inject, hono app.request) share this shape. */
export function replyFrom(status: number, headers: Headers, bytes: Uint8Array): Reply {
  const text = Buffer.from(bytes).toString()
  return { status, headers, json: parse(text), text, bytes }
}

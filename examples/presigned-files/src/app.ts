import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { presignUrl } from '@sigil/client'
import type { KeyRecord } from '@sigil/core'
import { sendProblem, type VerifyOptions, verifyNodeRequest } from '@sigil/server/node'
import { demoKeyStore } from '@sigil-examples/demo-keys'
import cors from 'cors'

/**
 * A file server that hands out links:
 *   POST /v1/links   signed with headers by a partner: `{ name, method?: 'GET'|'PUT', expiresInMs?, maxBytes?, once? }`
 *                    → `{ url }`, a presigned link made with the partner's own key (revoking it kills the link)
 *   GET|HEAD /files/:name   presigned download (works in a browser, curl, an <img> tag)
 *   PUT /files/:name        presigned upload, held to the link's size bound (from a browser too)
 *   OPTIONS /files/:name    the CORS preflight of a browser page on another origin, answered by
 *                           the `cors` middleware before verification (a preflight carries no signature)
 * Options are hoisted: one verifier (and one replay store) per route kind, for the process.
 *
 * `origins`: the web app origins whose pages may upload and read answers (`https://app.example.com`).
 * Default `*`, any origin: acceptable only because links are bearer credentials that need no
 * cookie, so no credentials are ever allowed.
 */
export function createApp(o: { origins?: readonly string[] } = {}): Server {
  for (const k of Object.keys(o))
    if (k !== 'origins') throw new TypeError(`createApp: unknown option ${JSON.stringify(k)} (known: origins)`)
  // A page's fetch(link, { method: 'PUT', body: file }) is preflighted (PUT, and a Content-Type
  // outside the three "simple" ones). The signature is in the URL and covers the method, host,
  // path and query only, so the preflight needs to allow the method and Content-Type, nothing of Sigil's.
  const allowCors = cors({
    origin: o.origins ? [...o.origins] : '*',
    methods: ['GET', 'HEAD', 'PUT'],
    allowedHeaders: ['content-type'],
    credentials: false,
    maxAge: 600,
  })
  const files = new Map<string, { type: string; bytes: Uint8Array }>()
  const api: VerifyOptions = { keys: demoKeyStore }
  const links: VerifyOptions = { keys: demoKeyStore, presigned: { maxLifetimeMs: 3_600_000 }, maxBodyBytes: 10 * 1024 * 1024 }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] as string
    res.setHeader('referrer-policy', 'no-referrer')
    if (req.method === 'POST' && path === '/v1/links') {
      const v = await verifyNodeRequest(req, api)
      const ask = JSON.parse(new TextDecoder().decode(v.body ?? new Uint8Array())) as {
        name?: string
        method?: 'GET' | 'PUT'
        expiresInMs?: number
        maxBytes?: number
        once?: boolean
      }
      if (!ask.name || !/^[\w.-]{1,100}$/.test(ask.name)) return json(res, 400, { error: 'name must be 1-100 of [A-Za-z0-9_.-]' })
      const key = (await demoKeyStore.get(v.keyId)) as KeyRecord
      const origin = `http://${req.headers.host}`
      const url = await presignUrl(`${origin}/files/${ask.name}`, {
        keyId: key.keyId,
        secret: key.secret,
        method: ask.method ?? 'GET',
        expiresInMs: Math.min(ask.expiresInMs ?? 900_000, 3_600_000),
        ...(ask.maxBytes !== undefined ? { maxBytes: ask.maxBytes } : {}),
        ...(ask.once ? { singleUse: true } : {}),
      })
      return json(res, 201, { url })
    }
    const m = /^\/files\/([\w.-]{1,100})$/.exec(path)
    if (m) {
      const name = m[1] as string
      // Links are opened from other origins (a web app's <img>, fetch, an upload): the answer is
      // readable by the allowed origins, a preflight is answered here and never reaches the verifier.
      // `cors` answers a preflight (OPTIONS) itself, 204, and never calls next.
      if (req.method === 'OPTIONS') return allowCors(req, res, () => json(res, 405, { error: 'not a preflight' }))
      await new Promise<void>((resolve, reject) => allowCors(req, res, (e?: unknown) => (e ? reject(e) : resolve())))
      await verifyNodeRequest(req, links).then(async (v) => {
        if (req.method === 'PUT') {
          files.set(name, { type: req.headers['content-type'] ?? 'application/octet-stream', bytes: v.body ?? new Uint8Array() })
          return json(res, 201, { name, bytes: v.body?.byteLength ?? 0 })
        }
        const f = files.get(name)
        if (!f) return json(res, 404, { error: 'no such file' })
        res.writeHead(200, { 'content-type': f.type, 'content-length': f.bytes.byteLength })
        res.end(req.method === 'HEAD' ? undefined : f.bytes)
      })
      return
    }
    json(res, 404, { error: 'not found' })
  }

  return createServer((req, res) => {
    handle(req, res).catch((e) => sendProblem(res, e))
  })
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

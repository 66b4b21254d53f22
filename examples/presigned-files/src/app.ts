import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { presignUrl } from '@sigil/client'
import type { KeyRecord } from '@sigil/core'
import { sendProblem, type VerifyOptions, verifyNodeRequest } from '@sigil/server/node'
import { demoKeyStore } from '@sigil-examples/demo-keys'

/**
 * A file server that hands out links:
 *   POST /v1/links   signed with headers by a partner: `{ name, method?: 'GET'|'PUT', expiresInMs?, maxBytes? }`
 *                    → `{ url }`, a presigned link made with the partner's own key (revoking it kills the link)
 *   GET|HEAD /files/:name   presigned download (works in a browser, curl, an <img> tag)
 *   PUT /files/:name        presigned upload, held to the link's size bound
 * Options are hoisted: one verifier (and one replay store) per route kind, for the process.
 */
export function createApp(): Server {
  const files = new Map<string, { type: string; bytes: Uint8Array }>()
  const api: VerifyOptions = { keys: demoKeyStore }
  const links: VerifyOptions = { keys: demoKeyStore, presigned: { maxLifetimeMs: 3_600_000 }, maxBodyBytes: 10 * 1024 * 1024 }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] as string
    // Links are opened from other origins (a web app's <img>, fetch): allow them to read the answer.
    res.setHeader('access-control-allow-origin', '*')
    res.setHeader('referrer-policy', 'no-referrer')
    if (req.method === 'POST' && path === '/v1/links') {
      const v = await verifyNodeRequest(req, api)
      const ask = JSON.parse(new TextDecoder().decode(v.body ?? new Uint8Array())) as {
        name?: string
        method?: 'GET' | 'PUT'
        expiresInMs?: number
        maxBytes?: number
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
      })
      return json(res, 201, { url })
    }
    const m = /^\/files\/([\w.-]{1,100})$/.exec(path)
    if (m) {
      const name = m[1] as string
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

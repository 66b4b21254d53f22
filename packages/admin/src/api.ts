import type { IncomingMessage, ServerResponse } from 'node:http'
import { describeZodError, type Renames } from '@sigil/core/internal'
import { VerificationError, type Verifier } from '@sigil/server'
import { sendProblem, verifyNodeRequest } from '@sigil/server/node'
import type { ZodType } from 'zod'
import { adminOpenApi } from './openapi.js'
import * as s from './schemas.js'
import { type Actor, AdminError, type KeyService } from './service.js'

/** Write a JSON answer. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  res.end(text)
}

/** problem+json for portal refusals; Sigil's own rejections go through `sendProblem`. */
export function sendAdminProblem(res: ServerResponse, e: unknown): void {
  if (e instanceof AdminError) {
    const body = JSON.stringify({ type: 'about:blank', title: e.message, status: e.status, code: e.code })
    res.writeHead(e.status, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
    return
  }
  sendProblem(res, e)
}

/** Fields renamed in the last release: a request still using one is told the new name. */
const RENAMED: Renames = {
  limits: 'rateLimits',
  windowSeconds: ['windowMs', 'milliseconds'],
  periodSeconds: ['periodMs', 'milliseconds'],
  graceSeconds: ['graceMs', 'milliseconds'],
}

/**
 * Parse a body, query or dashboard form with the API's schemas; an unknown field is refused
 * naming the closest known one (the options toolkit's wording).
 */
export function parseInput<T>(schema: ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value)
  if (!r.success) {
    const { field, message } = describeZodError(r.error, schema, RENAMED)
    throw new AdminError(400, 'INVALID_REQUEST', `${field || 'body'}: ${message}`)
  }
  return r.data
}

function bodyJson(bytes: Uint8Array | undefined): unknown {
  if (!bytes || bytes.byteLength === 0) return {}
  try {
    return JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    throw new AdminError(400, 'INVALID_REQUEST', 'body is not JSON')
  }
}

/**
 * The `/api/v1` routes. Every request but the OpenAPI document is verified with Sigil and must
 * hold the `admin` scope (403 `SCOPE_DENIED` otherwise).
 */
export function createApiHandler(o: { service: KeyService; verifier: Verifier; publicUrl?: string }) {
  const { service, verifier } = o
  const openapi = JSON.stringify(adminOpenApi(o.publicUrl))
  return async function api(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    try {
      if (path === '/api/v1/openapi.json' && req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(openapi)
        return
      }
      const v = await verifyNodeRequest(req, verifier, { requiredScopes: ['admin'] })
      const actor: Actor = { kind: 'key', keyId: v.keyId }
      const q = Object.fromEntries(query)
      const m = /^\/api\/v1\/keys\/([A-Za-z0-9]{1,64})(\/rotate|\/revoke|\/usage)?$/.exec(path)
      if (path === '/api/v1/keys') {
        if (req.method === 'POST') return sendJson(res, 201, await service.create(actor, parseInput(s.createKeyBody, bodyJson(v.body))))
        if (req.method === 'GET') return sendJson(res, 200, await service.list(actor, parseInput(s.listKeysQuery, q)))
      } else if (path === '/api/v1/events' && req.method === 'GET') {
        return sendJson(res, 200, await service.events(actor, parseInput(s.eventsQuery, q)))
      } else if (m) {
        const keyId = m[1] as string
        const sub = m[2]
        if (!sub && req.method === 'GET') return sendJson(res, 200, await service.get(actor, keyId))
        if (!sub && req.method === 'PATCH') {
          const r = await service.update(actor, keyId, parseInput(s.updateKeyBody, bodyJson(v.body)))
          return sendJson(res, 200, { ...r.key, ...(r.warnings.length ? { warnings: r.warnings } : {}) })
        }
        if (sub === '/rotate' && req.method === 'POST')
          return sendJson(res, 201, await service.rotate(actor, keyId, parseInput(s.rotateKeyBody, bodyJson(v.body))))
        if (sub === '/revoke' && req.method === 'POST') {
          const r = await service.revoke(actor, keyId)
          return sendJson(res, 200, { ...r.key, ...(r.warnings.length ? { warnings: r.warnings } : {}) })
        }
        if (sub === '/usage' && req.method === 'GET')
          return sendJson(res, 200, await service.usage(actor, keyId, parseInput(s.usageQuery, q)))
      }
      throw new AdminError(404, 'NOT_FOUND', 'no such endpoint')
    } catch (e) {
      if (e instanceof AdminError || e instanceof VerificationError) return sendAdminProblem(res, e)
      sendProblem(res, e)
    }
  }
}

import { splitTarget } from '@sigil/core'
import type { Context, MiddlewareHandler } from 'hono'
import { compileAdapter, type SigilOptions } from '../../internal/adapter-options.js'
import {
  declaredBody,
  type IncomingRequest,
  markVerified,
  replayCheckedBy,
  type Verified,
  verifiedBy,
  verifyBuilt,
} from '../../internal/incoming.js'
import { problemResponse } from '../../internal/problem.js'
import { checkScopes } from '../../internal/route-requirements.js'
import { signResponse } from '../../internal/sign-response.js'
import type { Verifier } from '../../internal/verifier.js'
import { incomingFromRequest } from '../../internal/verify.js'

/** The context variables the middleware sets: `c.get('sigil')`, undefined on exempt routes. */
export type SigilVariables = { sigil: Verified | undefined }

/** The Hono env of an app behind `sigil()`. */
export type SigilEnv = { Variables: SigilVariables }

declare module 'hono' {
  interface ContextVariableMap {
    sigil: Verified | undefined
  }
}

/** What `@hono/node-server` puts in `c.env`: the Node request, whose `url` is the raw target. */
type NodeBindings = { incoming?: { url?: unknown; socket?: { remoteAddress?: string } } }

/** The raw target's path and query (on Node), or the URL's, and the path Hono routes on. */
function pathsOf(c: Context): { raw: ReturnType<typeof splitTarget>; fromNode: boolean; routed: string } {
  const node = (c.env as NodeBindings | undefined)?.incoming
  const routed = new URL(c.req.url).pathname
  if (typeof node?.url === 'string') {
    return { raw: splitTarget(node.url), fromNode: true, routed }
  }
  return { raw: splitTarget(c.req.url), fromNode: false, routed }
}

function incomingOf(c: Context, verifier: Verifier, paths: ReturnType<typeof pathsOf>): IncomingRequest {
  const node = (c.env as NodeBindings | undefined)?.incoming
  const incoming = incomingFromRequest(c.req.raw, verifier, node?.socket?.remoteAddress, paths.fromNode ? paths.raw : undefined)
  // On Node the WHATWG URL of c.req.url is normalized; sign against the target as it was sent.
  if (typeof node?.url === 'string') incoming.message = { ...incoming.message, path: paths.raw.path, query: paths.raw.query }
  // @hono/node-server gives GET and HEAD no body stream whatever arrived; bytes framed on the
  // connection still count (SPEC §2 step 7), so read them from the Node request.
  // (Read as an async iterable: no node: import, so this module still runs on Workers.)
  if (c.req.raw.body === null && node && typeof (node as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function') {
    const h = c.req.raw.headers
    const declared = declaredBody(h.get('content-length'), h.get('transfer-encoding'))
    if (declared.mayHaveBody) {
      incoming.hasBody = declared.hasBody
      incoming.mayHaveBody = true
      incoming.body = () => node as unknown as AsyncIterable<Uint8Array>
    }
  }
  return incoming
}

/**
 * Hono middleware that verifies requests (SPEC §2) on the Web `Request`, so it runs wherever
 * Hono does: Node (`@hono/node-server`), Bun, Deno, Cloudflare Workers. The body is digested from
 * a clone: `c.req.json()` still works afterwards. The result is `c.get('sigil')`.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { sigil, requireScopes } from '@sigil/server/hono'
 * const app = new Hono()
 * app.use(sigil({ keys: { k_partner_1: process.env.PARTNER_SECRET! }, exempt: ['/healthz'] }))
 * app.post('/v1/orders', requireScopes('orders:write'), async (c) => c.json({ by: c.get('sigil')?.principal }))
 * ```
 */
export function sigil(options: SigilOptions): MiddlewareHandler<SigilEnv> {
  const { verifier, isExempt, signing } = compileAdapter(options)
  return async (c, next) => {
    const earlier = c.get('sigil')
    // Stacked sigil(): an outer result counts only if this verifier produced it; another
    // verifier's result is checked again against this one's keys, scopes and profile.
    if (verifiedBy(earlier, verifier)) return next()
    const paths = pathsOf(c)
    if (earlier === undefined && isExempt(c.req.method, paths.raw.path, paths.routed)) return next()
    let verified: Verified
    try {
      verified = await verifyBuilt(verifier, () => {
        const incoming = incomingOf(c, verifier, paths)
        const replayed = replayCheckedBy(earlier)
        if (replayed) incoming.replayChecked = replayed
        return incoming
      })
    } catch (e) {
      return problemResponse(e)
    }
    c.set('sigil', markVerified(verified, verifier))
    await next()
    if (signing) c.res = await signResponse(c.res, verified, c.req.raw, signing)
  }
}

/**
 * Per-route scope requirement, after `sigil()`: 403 `SCOPE_DENIED` when the key lacks a scope.
 *
 * @example
 * ```ts
 * app.post('/v1/orders', requireScopes('orders:write'), (c) => c.json({ ok: true }))
 * ```
 */
export function requireScopes(...scopes: string[]): MiddlewareHandler<SigilEnv> {
  return async (c, next) => {
    try {
      checkScopes(c.get('sigil'), scopes)
    } catch (e) {
      return problemResponse(e)
    }
    await next()
  }
}

export type { ExemptRule } from '../../internal/route-requirements.js'
export type { SigilOptions, Verified }

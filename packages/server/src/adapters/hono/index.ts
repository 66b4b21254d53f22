import { optionNames, optionsError, splitTarget } from '@sigil/core/internal'
import type { Context, MiddlewareHandler } from 'hono'
import { compileAdapter, type SigilOptions } from '../../internal/adapter-options.js'
import {
  framingOf,
  type IncomingRequest,
  markVerified,
  replayCheckedBy,
  type Verified,
  type VerifyContext,
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

/** Options of the Hono middleware: the adapters' {@link SigilOptions}, and how the body is read. */
export interface HonoSigilOptions extends SigilOptions {
  /**
   * Read the request's body stream itself instead of a clone of `c.req.raw` (default false), and
   * hand the verified bytes to Hono's body cache: `c.req.json()`, `.text()`, `.arrayBuffer()`,
   * `.parseBody()` and validators read them. Faster (a clone tees the stream, which on Node costs
   * more than the verification on small bodies), but `c.req.raw`'s own body is then used: a
   * handler that reads it directly (a proxy passing `c.req.raw` on, a fetch handler such as
   * tRPC's or GraphQL Yoga's) fails with `TypeError: Body is unusable` unless it is handed
   * `await cloneRawRequest(c.req)` from `hono/request`. Off by default, so such apps work as they are.
   */
  consumeBody?: boolean
}

/** What `@hono/node-server` puts in `c.env`: the Node request, whose `url` is the raw target. */
/** Options {@link sigil} reads itself, on top of {@link SigilOptions}. */
const HONO_OPTION_NAMES = optionNames<Omit<HonoSigilOptions, keyof SigilOptions>>({ consumeBody: true })

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

function incomingOf(c: Context, verifier: Verifier, paths: ReturnType<typeof pathsOf>, consume: boolean): IncomingRequest {
  const node = (c.env as NodeBindings | undefined)?.incoming
  const target = paths.fromNode ? paths.raw : undefined
  // On Node the WHATWG URL of c.req.url is normalized: the view is built on the target as it was sent.
  const incoming = incomingFromRequest(c.req.raw, verifier, node?.socket?.remoteAddress, target, consume)
  // @hono/node-server gives GET and HEAD no body stream whatever arrived; bytes framed on the
  // connection still count (SPEC §2 step 7), so read them from the Node request.
  // (Read as an async iterable: no node: import, so this module still runs on Workers.)
  if (c.req.raw.body === null && node && typeof (node as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function') {
    const h = c.req.raw.headers
    const declared = framingOf(h)
    if (declared.mayHaveBody) {
      incoming.hasBody = declared.hasBody
      incoming.mayHaveBody = true
      incoming.body = () => node as unknown as AsyncIterable<Uint8Array>
    }
  }
  return incoming
}

/**
 * Hand the verified bytes to Hono's body cache, which `c.req.json()`, `.text()`, `.arrayBuffer()`,
 * `.blob()`, `.formData()`, `.parseBody()` and validators read from (any cached entry serves
 * every other kind).
 */
function seedBodyCache(c: Context, body: Uint8Array): void {
  const buffer =
    body.byteOffset === 0 && body.byteLength === body.buffer.byteLength
      ? (body.buffer as ArrayBuffer)
      : (body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer)
  // Hono keeps promises in the cache (its type says values): `c.req.text()` chains on the entry.
  ;(c.req.bodyCache as Record<string, unknown>).arrayBuffer = Promise.resolve(buffer)
}

/**
 * Hono middleware that verifies requests (SPEC §2) on the Web `Request`, so it runs wherever
 * Hono does: Node (`@hono/node-server`), Bun, Deno, Cloudflare Workers. The body is digested
 * from a clone, so `c.req.json()` and `c.req.raw` both still read it; `consumeBody: true` skips
 * the clone (see {@link HonoSigilOptions.consumeBody}). The result is `c.get('sigil')`.
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
export function sigil(options: HonoSigilOptions): MiddlewareHandler<SigilEnv> {
  const { consumeBody = false, ...adapterOptions } = options ?? ({} as HonoSigilOptions)
  if (typeof consumeBody !== 'boolean') throw optionsError('adapter options', 'consumeBody', 'expected boolean')
  const { verifier, isExempt, signing } = compileAdapter(adapterOptions, HONO_OPTION_NAMES)
  const retain = verifier.config.retainBody
  const telemetry = verifier.config.telemetry !== undefined
  return async (c, next) => {
    const earlier = c.get('sigil')
    // Stacked sigil(): an outer result counts only if this verifier produced it; another
    // verifier's result is checked again against this one's keys, scopes and profile.
    if (verifiedBy(earlier, verifier)) return next()
    const paths = pathsOf(c)
    if (earlier === undefined && isExempt(c.req.method, paths.raw.path, paths.routed)) return next()
    let verified: Verified
    // With consumeBody, read the request's own stream (no clone) when it is unread. Once read through c.req (an
    // outer sigil(), or a middleware that parsed it), the bytes to verify are the ones the app
    // will get: Hono's body cache.
    const raw = c.req.raw
    const cached = raw.bodyUsed && !isEmpty(c.req.bodyCache)
    const consume = consumeBody && !cached && raw.body !== null
    try {
      verified = await verifyBuilt(
        verifier,
        () => {
          const incoming = incomingOf(c, verifier, paths, consume)
          if (cached) incoming.body = () => cachedBody(c)
          const replayed = replayCheckedBy(earlier)
          if (replayed) incoming.replayChecked = replayed
          return incoming
        },
        routeContext(c, telemetry),
        c.req.method,
      )
    } catch (e) {
      return problemResponse(e)
    }
    if (verified.encrypted) {
      // SPEC §8: c.req.json() and the validators read the plaintext (c.req.raw keeps the ciphertext).
      seedBodyCache(c, verified.body ?? EMPTY)
    } else if (consume && raw.bodyUsed) {
      // A body no digest covers (digestRequired: false) was left unread: Hono reads it as ever.
      seedBodyCache(c, verified.body ?? EMPTY)
      if (!retain) delete verified.body
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

const EMPTY = new Uint8Array(0)

/**
 * The pattern of the route that will answer (`/v1/orders/:id`), for telemetry: the last matched
 * route registered for a method (the handler; `use()` and `all()` register `ALL`), else the last
 * matched one. A registered pattern, never the request's path. (`c.req.matchedRoutes`, not
 * `hono/route`: that module needs Hono 4.8, the peer range starts at 4.0.)
 */
function routeContext(c: Context, telemetry: boolean): VerifyContext | undefined {
  if (!telemetry) return undefined
  const routes = c.req.matchedRoutes
  let route = routes.at(-1)?.path
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i] as { method: string; path: string }
    if (r.method !== 'ALL') {
      route = r.path
      break
    }
  }
  return route === undefined ? undefined : { route }
}

/** The body as Hono's cache holds it, read (under the verifier's deadline and size limit) when asked. */
function cachedBody(c: Context): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      yield new Uint8Array(await c.req.arrayBuffer())
    },
  }
}

function isEmpty(cache: object): boolean {
  for (const _ in cache) return false
  return true
}

export type { ExemptRule } from '../../internal/route-requirements.js'
export type { SigilOptions, Verified }

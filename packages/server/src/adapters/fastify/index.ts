import { Readable } from 'node:stream'
import { splitTarget } from '@sigil/core/internal'
import type { FastifyPluginCallback, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify'
import { compileAdapter, type SigilOptions } from '../../internal/adapter-options.js'
import {
  describePlaintext,
  isPromise,
  markVerified,
  replayCheckedBy,
  type Verified,
  type VerifyContext,
  verifiedBy,
} from '../../internal/incoming.js'
import { pushBody } from '../../internal/node-body.js'
import { bodyUnread, type NodeIncoming, nodeIncoming } from '../../internal/node-http.js'
import { toProblem } from '../../internal/problem.js'
import { checkScopes } from '../../internal/route-requirements.js'
import {
  ACCEPT_ENCRYPTION,
  encryptResponseBody,
  NULL_BODY,
  responseSignatureHeaders,
  type SignResponseOptions,
} from '../../internal/sign-response.js'
import { recordUnbuilt } from '../../internal/telemetry.js'
import { verifyNow } from '../../internal/verifier.js'

/** Per-route settings, in the route's `config.sigil`: `false` exempts the route. */
export type SigilRouteConfig = false | { scopes?: readonly string[] }

declare module 'fastify' {
  interface FastifyRequest {
    /** Who signed the request; set by the Sigil plugin, undefined on exempt routes. */
    sigil?: Verified
  }
  interface FastifyContextConfig {
    sigil?: SigilRouteConfig
  }
}

function reject(reply: FastifyReply, error: unknown): void {
  const p = toProblem(error)
  // A body left unread (rejected before SPEC §2 step 7) would be read as the next request: close
  // the connection then, as sendProblem does. A fully received request keeps its connection.
  void reply
    .code(p.status)
    .headers({ ...p.headers, ...(bodyUnread(reply.request.raw) ? { connection: 'close' } : {}) })
    .send(JSON.stringify(p.body))
}

function noRead(): void {}

/** A readable of `bytes`, for Fastify's parsers once the verifier has read the request. */
function bytesStream(bytes: Uint8Array | undefined): Readable {
  const stream = new Readable({ read: noRead })
  if (bytes !== undefined && bytes.byteLength > 0) stream.push(bytes)
  stream.push(null)
  return stream
}

function accept(
  request: FastifyRequest,
  payload: Readable,
  next: (err: Error | null, payload?: Readable) => void,
  incoming: NodeIncoming,
  verified: Verified,
  verifier: object,
): void {
  // The verifier read the request (to its end: it was accepted): hand the parsers the same bytes.
  const body = verified.body
  if (body !== undefined && !Buffer.isBuffer(body)) verified.body = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  request.sigil = markVerified(verified, verifier)
  describePlaintext(request.headers, verified)
  next(null, incoming.bodyTaken ? bytesStream(verified.body) : payload)
}

const plugin: FastifyPluginCallback<SigilOptions> = (app, options, done) => {
  let compiled: ReturnType<typeof compileAdapter>
  try {
    compiled = compileAdapter(options)
  } catch (e) {
    // Through done(): `register(...)`/`ready()` reject with the ConfigurationError (a throw here
    // escapes avvio as an uncaught exception and the app never starts).
    done(e as Error)
    return
  }
  const { verifier, isExempt, signing } = compiled
  const telemetry = verifier.config.telemetry !== undefined
  // A second registration (a child scope with its own keys or scopes) shares the decorator.
  if (!app.hasRequestDecorator('sigil')) app.decorateRequest('sigil', undefined)
  // preParsing sees the raw payload before Fastify's content-type parsers: digest those bytes,
  // then hand the parsers a stream of the same bytes.
  app.addHook('preParsing', (request, reply, payload, next) => {
    const route = request.routeOptions.config?.sigil
    const target = request.originalUrl
    const earlier = request.sigil
    // A second registration (a child scope) counts an earlier result only if it produced it; a
    // result of another registration is verified again with this one's keys, scopes and profile.
    if (verifiedBy(earlier, verifier) || route === false || (earlier === undefined && isExempt(request.method, splitTarget(target).path))) {
      next(null, payload)
      return
    }
    let incoming: NodeIncoming
    let answer: Verified | Promise<Verified>
    try {
      incoming = nodeIncoming(request.raw, verifier, payload === request.raw ? { target } : { target, body: () => pushBody(payload) })
      // Fastify's parsers read the bytes after the digest did: keep them whatever retainBody says.
      incoming.retainBody = true
      const replayed = replayCheckedBy(earlier)
      if (replayed) incoming.replayChecked = replayed
      const context: VerifyContext | undefined = route?.scopes ? { requiredScopes: route.scopes } : undefined
      // The route pattern Fastify matched, for telemetry only.
      const url = telemetry ? request.routeOptions.url : undefined
      answer = verifyNow(verifier, incoming, url === undefined ? context : { ...context, route: url })
    } catch (e) {
      recordUnbuilt(verifier.config, request.method, e, telemetry ? request.routeOptions.url : undefined)
      reject(reply, e)
      return
    }
    // No body to wait for and synchronous stores: no promise at all.
    if (!isPromise(answer)) {
      accept(request, payload, next, incoming, answer, verifier)
      return
    }
    answer.then(
      (verified) => accept(request, payload, next, incoming, verified, verifier),
      (e: unknown) => reject(reply, e),
    )
  })
  if (signing) app.addHook('onSend', async (request, reply, payload) => signReply(request, reply, payload, signing))
  done()
}

async function bytesOf(payload: unknown): Promise<Buffer> {
  if (payload === null || payload === undefined) return Buffer.alloc(0)
  if (typeof payload === 'string' || payload instanceof Uint8Array) return Buffer.from(payload as string)
  const parts: Buffer[] = []
  for await (const c of payload as AsyncIterable<Buffer | string>) parts.push(Buffer.from(c))
  return Buffer.concat(parts)
}

/** SPEC §5 in onSend: the payload is final (serialized), so digest and sign it, buffered. */
async function signReply(request: FastifyRequest, reply: FastifyReply, payload: unknown, signing: SignResponseOptions): Promise<unknown> {
  if (!request.sigil) return payload
  let body = await bytesOf(payload)
  const get = (n: string) => {
    const v = reply.hasHeader(n) ? reply.getHeader(n) : undefined
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : String(v)
  }
  const req = {
    get: (n: string) => (Object.hasOwn(request.headers, n) && request.headers[n] !== undefined ? String(request.headers[n]) : null),
  }
  if (signing.encryptResponses && request.method !== 'HEAD' && !NULL_BODY.has(reply.statusCode)) {
    // SPEC §8: encrypted for the request's key when it asked, then digested and signed as sent.
    const sealed = await encryptResponseBody(body, { get }, request.sigil, req, signing)
    if (sealed) {
      body = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength)
      const vary = get('vary')
      reply.header('content-encoding', 'aes128gcm')
      reply.header('vary', vary ? `${vary}, ${ACCEPT_ENCRYPTION}` : ACCEPT_ENCRYPTION)
      reply.header('content-length', body.byteLength)
    }
  }
  reply.headers(await responseSignatureHeaders(reply.statusCode, { get }, body, request.sigil, req, signing))
  return body
}

/**
 * The Fastify 5 plugin: verifies every request of the app (SPEC §2) before Fastify parses the
 * body, then lets Fastify's own parsers run on the same bytes. The result is on `request.sigil`.
 * Route `config: { sigil: false }` exempts a route, `config: { sigil: { scopes: [...] } }` adds
 * required scopes (checked in SPEC order, before rate limiting).
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { sigil } from '@sigil/server/fastify'
 * const app = Fastify()
 * await app.register(sigil, { keys: { k_partner_1: process.env.PARTNER_SECRET! } })
 * app.post('/v1/orders', { config: { sigil: { scopes: ['orders:write'] } } }, async (req) => ({ by: req.sigil!.principal }))
 * app.get('/healthz', { config: { sigil: false } }, async () => ({ ok: true }))
 * ```
 */
export const sigil: FastifyPluginCallback<SigilOptions> = Object.assign(plugin, {
  // fastify-plugin's contract, without the dependency: apply app-wide, not in a child scope.
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@sigil/server/fastify',
  [Symbol.for('plugin-meta')]: { name: '@sigil/server/fastify', fastify: '5.x' },
})

/**
 * A `preHandler` that requires scopes on one route, for apps that prefer hooks to route config.
 *
 * @example
 * ```ts
 * app.post('/v1/orders', { preHandler: requireScopes('orders:write') }, handler)
 * ```
 */
export function requireScopes(...scopes: string[]): preHandlerHookHandler {
  return (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    try {
      checkScopes(request.sigil, scopes)
    } catch (e) {
      reject(reply, e)
      return
    }
    done()
  }
}

export type { ExemptRule } from '../../internal/route-requirements.js'
export type { SigilOptions, Verified }

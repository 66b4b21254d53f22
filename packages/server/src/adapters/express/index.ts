import type { IncomingMessage, ServerResponse } from 'node:http'
import { ConfigurationError, VerificationError } from '@sigil/core'
import { splitTarget } from '@sigil/core/internal'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { compileAdapter, type SigilOptions } from '../../internal/adapter-options.js'
import {
  describePlaintext,
  isPromise,
  isVerified,
  markVerified,
  replayCheckedBy,
  type Verified,
  verifiedBy,
} from '../../internal/incoming.js'
import { pushBody, replayBodyNow } from '../../internal/node-body.js'
import { NodeIncoming, sendProblem } from '../../internal/node-http.js'
import { checkScopes } from '../../internal/route-requirements.js'
import { signNodeResponse } from '../../internal/sign-response.js'
import { recordUnbuilt } from '../../internal/telemetry.js'
import { type Verifier, verifyNow } from '../../internal/verifier.js'

declare global {
  namespace Express {
    interface Request {
      /** Who signed the request; set by `sigil()`, absent on exempt routes. */
      sigil?: Verified
    }
  }
}

const RAW = Symbol.for('sigil.rawBody')
type WithRaw = IncomingMessage & { [RAW]?: Buffer; _body?: boolean }

function captureRawBody(req: IncomingMessage, _res: ServerResponse, buf: Buffer): void {
  ;(req as WithRaw)[RAW] = buf
}

/**
 * A body-parser `verify` hook that keeps the raw bytes for `sigil()`. Needed only when a parser
 * (`express.json()` / `urlencoded()` / `text()` / `raw()`) reads the body before `sigil()` runs
 * and `sigil()` cannot move in front of it (see {@link sigil}); mounted before the parsers,
 * `sigil()` needs nothing. Pass it called (`sigilRawBody()`), so `app.use` can tell it is there.
 *
 * @example
 * ```ts
 * app.use(express.json({ verify: sigilRawBody() }))
 * app.use(sigil({ keys }))
 * ```
 */
export function sigilRawBody(): typeof captureRawBody
export function sigilRawBody(req: IncomingMessage, res: ServerResponse, buf: Buffer): void
export function sigilRawBody(req?: IncomingMessage, res?: ServerResponse, buf?: Buffer): typeof captureRawBody | undefined {
  if (req === undefined) {
    rawBodyHooks++
    return captureRawBody
  }
  captureRawBody(req, res as ServerResponse, buf as Buffer)
  return undefined
}

/** How many parsers were given `sigilRawBody()` (called form) so far: none means none can keep bytes. */
let rawBodyHooks = 0
let warnedConsumed = false
const PARSERS = new Set(['jsonParser', 'urlencodedParser', 'textParser', 'rawParser'])
type Layer = { name?: string }

/**
 * `app.use(sigil())` tells us where it was mounted (Express emits `mount` on anything with
 * `handle` and `set`): body parsers mounted just before it are moved after it, so the digest sees
 * the raw bytes and the parsers then read them again. A parser further up, with other middleware
 * in between, stays where it is: a start-up warning then says what to do, unless a parser was
 * given `sigilRawBody()`.
 */
function mountedOn(parent: { router?: { stack?: Layer[] }; _router?: { stack?: Layer[] } }): void {
  // Express 4 keeps its router on `_router` (its `router` getter throws); Express 5 on `router`.
  const stack = (parent._router ?? parent.router)?.stack
  if (!Array.isArray(stack) || stack.length === 0) return
  const at = stack.length - 1 // Express pushed our layer, then emitted `mount`
  let first = at
  while (first > 0 && PARSERS.has((stack[first - 1] as Layer).name ?? '')) first--
  if (first < at) stack.splice(first, 0, ...stack.splice(at, 1))
  if (rawBodyHooks === 0 && stack.slice(0, first).some((l) => PARSERS.has(l.name ?? ''))) {
    emitWarningOnce(
      'sigil() is mounted after a body parser with other middleware in between: requests with a body will fail (500) unless that parser has { verify: sigilRawBody() }; mount sigil() before the parsers',
    )
  }
}

function emitWarningOnce(message: string): void {
  if (warnedConsumed) return
  warnedConsumed = true
  process.emitWarning(message, { code: 'SIGIL_BODY_CONSUMED' })
}

let warnedEncoding = false
function emitEncodingWarningOnce(): void {
  if (warnedEncoding) return
  warnedEncoding = true
  process.emitWarning(
    'a body parser before sigil() decoded a request body with a Content-Encoding (sigilRawBody() kept the decoded bytes, not the signed ones): such requests are refused with 415; mount sigil() before the body parsers to verify them',
    { code: 'SIGIL_BODY_DECODED' },
  )
}

function consumed(req: WithRaw): boolean {
  return req.readableEnded || req._body === true || (req.complete && !req.readable)
}

function bodyAlreadyRead(req: WithRaw, earlier: Verified | undefined): AsyncIterable<Uint8Array> {
  // An outer sigil() kept the bytes it verified (as sent): a parser between the two does not lose them.
  const kept = earlier?.body && isVerified(earlier) ? Buffer.from(earlier.body) : undefined
  const raw = kept ?? req[RAW]
  if (!raw) {
    emitWarningOnce('a request body was consumed by a parser before sigil() without sigilRawBody(): every request with a body fails (500)')
    throw new ConfigurationError(
      'the request body was consumed before sigil() (a body parser ran first): mount sigil() before express.json(), or pass { verify: sigilRawBody() } to the parser',
    )
  }
  // sigilRawBody() keeps the bytes the parser decoded: with a Content-Encoding, those are not the
  // bytes the digest covers (RFC 9530: the content as sent), so the request cannot be verified
  // here. The client can send it unencoded: 415 with Accept-Encoding (RFC 7694), not a 500; the
  // operator is told once how to take coded bodies.
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase()
  if (kept === undefined && encoding !== 'identity' && encoding !== '') {
    emitEncodingWarningOnce()
    const e = new VerificationError(
      'CONTENT_ENCODING_UNSUPPORTED',
      'a body with a Content-Encoding cannot be verified here: send it without one',
    )
    e.headers = { 'accept-encoding': 'identity' }
    throw e
  }
  return (async function* () {
    yield raw
  })()
}

const EMPTY = new Uint8Array(0)

/**
 * A request as the Express middleware hands it to the verifier: the node view, whose body is the
 * stream read with the digest (its bytes kept, to hand the parsers again), or the raw bytes a
 * parser before `sigil()` kept.
 */
class ExpressIncoming extends NodeIncoming {
  /** Set when the verifier read the request stream itself (the parsers then need the bytes again). */
  streamRead = false
  constructor(
    req: IncomingMessage,
    verifier: Verifier,
    target: string,
    private readonly earlier: Verified | undefined,
  ) {
    super(req, verifier.config, { target })
    // The parsers after sigil() read the bytes the digest read: keep them whatever retainBody says.
    this.retainBody = true
  }
  override body(): ReturnType<NodeIncoming['body']> {
    this.bodyTaken = true
    const req = this.req as WithRaw
    if (consumed(req)) return bodyAlreadyRead(req, this.earlier)
    if (!this.mayHaveBody) return null
    this.streamRead = true
    return pushBody(req)
  }
}

/**
 * Express 4 and 5 middleware that verifies every request (SPEC §2) and puts the result on
 * `req.sigil`. Mount it before the body parsers: it digests the raw bytes and hands the parsers the
 * same bytes again, so `req.body` is parsed as usual. `app.use(sigil())` placed right after
 * `app.use(express.json())` (or urlencoded/text/raw) moves itself in front of them. A parser that
 * runs earlier than that (other middleware in between, or a parser on the app before a router
 * that mounts `sigil()`) consumes the stream: give it `{ verify: sigilRawBody() }`, else every
 * request with a body is a 500 (and a `SIGIL_BODY_CONSUMED` warning is printed at start-up when
 * `app.use` can tell, at the first such request otherwise). Inside a mounted router it signs
 * `req.originalUrl`. A second `sigil()` further down (a router with other keys or scopes)
 * verifies again with its own options. Rejections are problem+json.
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { sigil, requireScopes } from '@sigil/server/express'
 * const app = express()
 * app.use(sigil({ keys: { k_partner_1: process.env.PARTNER_SECRET! }, exempt: ['/healthz'] }))
 * app.use(express.json())
 * app.post('/v1/orders', requireScopes('orders:write'), (req, res) => res.json({ by: req.sigil!.principal, order: req.body }))
 * ```
 */
export function sigil(options: SigilOptions): RequestHandler {
  const { verifier, isExempt, signing } = compileAdapter(options)
  const telemetry = verifier.config.telemetry !== undefined
  const verified = (req: Request, res: Response, next: NextFunction, result: Verified) => {
    req.sigil = markVerified(result, verifier)
    if (signing) signNodeResponse(res, result, req, signing)
    next()
  }
  // The verifier read the stream (to its end: it accepted): hand the parsers the same bytes.
  const accept = (req: Request, res: Response, next: NextFunction, incoming: ExpressIncoming, result: Verified) => {
    if (!incoming.streamRead) {
      verified(req, res, next, result)
      return
    }
    const bytes = result.body ?? EMPTY
    // Read to its end and accepted with no body kept: the stream held no bytes (any byte without
    // a covered digest is refused). Say so on the result, so a stacked sigil() further down, which
    // finds the stream consumed, verifies these zero bytes instead of refusing a parser it cannot see.
    if (result.body === undefined) result.body = bytes
    describePlaintext(req.headers, result)
    let replay: Promise<void> | undefined
    try {
      replay = replayBodyNow(req, bytes)
    } catch (e) {
      sendProblem(res, e)
      return
    }
    if (replay === undefined) verified(req, res, next, result)
    else
      replay.then(
        () => verified(req, res, next, result),
        (e: unknown) => sendProblem(res, e),
      )
  }
  const middleware = (req: Request, res: Response, next: NextFunction) => {
    const target = req.originalUrl ?? req.url
    const earlier = req.sigil
    // Stacked sigil(): an outer result counts only if this verifier produced it; another
    // verifier's result is checked again against this one's keys, scopes and profile.
    if (verifiedBy(earlier, verifier) || (earlier === undefined && isExempt(req.method, splitTarget(target).path))) {
      next()
      return
    }
    let incoming: ExpressIncoming
    let answer: Verified | Promise<Verified>
    try {
      incoming = new ExpressIncoming(req, verifier, target, earlier)
      const replayed = replayCheckedBy(earlier)
      if (replayed) incoming.replayChecked = replayed
      // The route pattern, for telemetry only (known when sigil() is mounted on a route).
      const route = telemetry && typeof req.route?.path === 'string' ? { route: req.route.path as string } : undefined
      answer = verifyNow(verifier, incoming, route)
    } catch (e) {
      recordUnbuilt(verifier.config, req.method, e)
      sendProblem(res, e)
      return
    }
    if (!isPromise(answer)) {
      accept(req, res, next, incoming, answer)
      return
    }
    const building = incoming
    answer.then(
      (result) => accept(req, res, next, building, result),
      (e: unknown) => sendProblem(res, e),
    )
  }
  // Seen by `app.use` as a mountable app: it calls `handle` per request and emits `mount` once.
  return Object.assign(middleware, {
    handle: middleware,
    set: () => undefined,
    emit: (event: string, parent: Parameters<typeof mountedOn>[0]) => {
      if (event === 'mount') mountedOn(parent)
      return true
    },
  })
}

/**
 * Per-route scope requirement, after `sigil()`: 403 `SCOPE_DENIED` when the key lacks a scope,
 * 401 when the request was not verified (an exempt route).
 *
 * @example
 * ```ts
 * app.post('/v1/orders', requireScopes('orders:write'), createOrder)
 * ```
 */
export function requireScopes(...scopes: string[]): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    try {
      checkScopes(req.sigil, scopes)
    } catch (e) {
      sendProblem(res, e)
      return
    }
    next()
  }
}

export type { ExemptRule } from '../../internal/route-requirements.js'
export type { SigilOptions, Verified }

import type { IncomingMessage, ServerResponse } from 'node:http'
import { ConfigurationError, splitTarget } from '@sigil/core'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { compileAdapter, type SigilOptions } from './adapter-options.js'
import { markVerified, replayCheckedBy, type Verified, verifiedBy, verifyBuilt } from './incoming.js'
import { incomingFromNode, sendProblem } from './node.js'
import { joinRetained, type Retained, readChunks, replayBody } from './node-body.js'
import { checkScopes } from './route-requirements.js'
import { signNodeResponse } from './sign-response.js'

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
 * A body-parser `verify` hook that keeps the raw bytes for `sigil()`. Needed only when `sigil()`
 * is mounted *after* `express.json()` / `urlencoded()` / `text()` / `raw()`, which consume the
 * stream; mounted before them, `sigil()` needs nothing. Pass it called or uncalled.
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
  if (req === undefined) return captureRawBody
  captureRawBody(req, res as ServerResponse, buf as Buffer)
  return undefined
}

function consumed(req: WithRaw): boolean {
  return req.readableEnded || req._body === true || (req.complete && !req.readable)
}

function bodyAlreadyRead(req: WithRaw, earlier: Verified | undefined): AsyncIterable<Uint8Array> {
  // An outer sigil() kept the bytes it verified: a parser between the two does not lose them.
  const raw = req[RAW] ?? (earlier?.body && replayCheckedBy(earlier) ? Buffer.from(earlier.body) : undefined)
  if (!raw) {
    throw new ConfigurationError(
      'the request body was consumed before sigil() (a body parser ran first): mount sigil() before express.json(), or pass { verify: sigilRawBody() } to the parser',
    )
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase()
  if (encoding !== 'identity') {
    throw new ConfigurationError('a compressed body was decoded by a parser before sigil(): mount sigil() before the body parsers')
  }
  return (async function* () {
    yield raw
  })()
}

/**
 * Express 4 and 5 middleware that verifies every request (SPEC §2) and puts the result on
 * `req.sigil`. The digest is computed from the raw bytes whether it runs before or after the body
 * parsers; mounted before them, it hands the parsers the same bytes again, so `req.body` is parsed
 * as usual. Inside a mounted router it signs `req.originalUrl`. Rejections are problem+json.
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
  return (req: Request, res: Response, next: NextFunction) => {
    const target = req.originalUrl ?? req.url
    const earlier = req.sigil
    // Stacked sigil(): an outer result counts only if this verifier produced it; another
    // verifier's result is checked again against this one's keys, scopes and profile.
    if (verifiedBy(earlier, verifier) || (earlier === undefined && isExempt(req.method, splitTarget(target).path))) {
      next()
      return
    }
    const keep: Retained = { parts: [], bytes: 0, complete: false }
    const build = () => {
      const incoming = incomingFromNode(req, verifier, { target })
      const streamed = incoming.body
      incoming.body = () => {
        if (consumed(req as WithRaw)) return bodyAlreadyRead(req as WithRaw, earlier)
        return streamed() === null ? null : readChunks(req, keep)
      }
      const replayed = replayCheckedBy(earlier)
      if (replayed) incoming.replayChecked = replayed
      return incoming
    }
    const accept = async (): Promise<Verified> => {
      const verified = await verifyBuilt(verifier, build)
      if (!keep.complete) return verified
      const bytes = joinRetained(keep)
      await replayBody(req, bytes)
      return { ...verified, body: bytes }
    }
    accept().then(
      (verified) => {
        req.sigil = markVerified(verified, verifier)
        if (signing) signNodeResponse(res, verified, req, signing)
        next()
      },
      (e: unknown) => sendProblem(res, e),
    )
  }
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

export type { ExemptRule } from './route-requirements.js'
export type { SigilOptions, Verified }

import { splitTarget } from '@sigil/core'
import { resolveOrigin } from './authority.js'
import { declaredBody, type IncomingRequest, type Verified, type VerifyContext } from './incoming.js'
import type { VerifyOptions } from './options.js'
import { createVerifier, type Verifier } from './verifier.js'

const compiled = new WeakMap<VerifyOptions, Verifier>()

/** The verifier for an options object, compiled once and cached on it. */
export function verifierFor(options: VerifyOptions | Verifier): Verifier {
  if ('verifyIncoming' in options) return options
  let v = compiled.get(options)
  if (!v) {
    v = createVerifier(options)
    compiled.set(options, v)
  }
  return v
}

/** Adapt a Web `Request` for the verifier. The body is read from a clone, so the app can still read it. */
export function incomingFromRequest(request: Request, verifier: Verifier, address?: string): IncomingRequest {
  const url = new URL(request.url)
  const { path, query } = splitTarget(request.url)
  const h = request.headers
  const { authority, scheme } = resolveOrigin((n) => h.get(n), url.protocol.slice(0, -1), url.host, verifier.config)
  const declared = declaredBody(h.get('content-length'), h.get('transfer-encoding'))
  const hasBody = declared.hasBody || (request.body !== null && h.get('content-length') === null)
  return {
    message: { method: request.method, scheme, authority, path, query, headers: h },
    hasBody,
    ...(declared.contentLength !== undefined ? { contentLength: declared.contentLength } : {}),
    body: () => (request.body === null ? null : (request.clone().body as ReadableStream<Uint8Array>)),
    ...(address ? { address } : {}),
  }
}

/**
 * Verify a signed Web `Request` (SPEC §2). Resolves with who signed it; rejects with a
 * `VerificationError` whose `code` and `status` say why. Options are validated once per object.
 *
 * @example
 * ```ts
 * import { verify, problemResponse } from '@sigil/server'
 * const options = { keys: { k_partner_1: process.env.PARTNER_SECRET! } }
 * export async function POST(request: Request) {
 *   try {
 *     const { principal } = await verify(request, options)
 *     return Response.json({ hello: principal })
 *   } catch (e) {
 *     return problemResponse(e)
 *   }
 * }
 * ```
 */
export function verify(request: Request, options: VerifyOptions | Verifier, context?: VerifyContext): Promise<Verified> {
  const verifier = verifierFor(options)
  return verifier.verifyIncoming(incomingFromRequest(request, verifier), context)
}

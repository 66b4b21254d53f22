import { splitTarget } from '@sigil/core'
import { connectionHost, resolveOrigin } from './authority.js'
import { declaredBody, type IncomingRequest, type Verified, type VerifyContext, verifyBuilt } from './incoming.js'
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

/**
 * Adapt a Web `Request` for the verifier. The body is read from a clone, so the app can still read
 * it. `@authority` is the `Host` header the request carries (what the client sent and the app
 * reads), not the host of `request.url`, which runtimes rewrite (Next.js puts `localhost` there);
 * only a request without a Host header (one built by a client, e.g. under msw) falls back to the
 * URL. `target` is an absolute-form request target's authority and scheme, when an adapter saw one.
 */
export function incomingFromRequest(
  request: Request,
  verifier: Verifier,
  address?: string,
  target?: { authority?: string; scheme?: string },
): IncomingRequest {
  const url = new URL(request.url)
  const { path, query } = splitTarget(request.url)
  const h = request.headers
  const scheme = url.protocol.slice(0, -1)
  const host = h.get('host')
  const { authority, scheme: resolved } = resolveOrigin(
    (n) => h.get(n),
    scheme,
    connectionHost(host === null ? [] : [host], null, target, scheme, url.host),
    verifier.config,
  )
  // A Web body is a stream whatever the headers say: bytes decide (zero bytes is no body).
  const declared = declaredBody(h.get('content-length'), h.get('transfer-encoding'), request.body === null)
  return {
    message: { method: request.method, scheme: resolved, authority, path, query, headers: h },
    hasBody: declared.hasBody,
    mayHaveBody: request.body !== null,
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
 * import { createVerifier, verify, problemResponse } from '@sigil/server'
 * // Hoisted: options are validated once, here (a missing or short secret throws at start-up).
 * // Options passed inline also work (replays are still refused: verifiers without a nonceStore
 * // share one per process), but each call then revalidates them.
 * const verifier = createVerifier({ keys: { k_partner_1: process.env.PARTNER_SECRET } })
 * export async function POST(request: Request) {
 *   try {
 *     const { principal } = await verify(request, verifier)
 *     return Response.json({ hello: principal })
 *   } catch (e) {
 *     return problemResponse(e)
 *   }
 * }
 * ```
 */
export function verify(request: Request, options: VerifyOptions | Verifier, context?: VerifyContext): Promise<Verified> {
  const verifier = verifierFor(options)
  return verifyBuilt(verifier, () => incomingFromRequest(request, verifier), context)
}

import type { RequestMessage } from '@sigil/core'
import { checkOptions, splitTarget } from '@sigil/core/internal'
import { requestOrigin } from './authority.js'
import { framingOf, type IncomingRequest, type Verified, type VerifyContext } from './incoming.js'
import { VERIFY_REQUEST_CONTEXT_NAMES } from './option-names.js'
import type { VerifierConfig, VerifyOptions } from './options.js'
import { recordUnbuilt } from './telemetry.js'
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
 * What `verify(request, …)` takes per call: a {@link VerifyContext} (route requirements), and how
 * to read the body.
 */
export interface VerifyRequestContext extends VerifyContext {
  /**
   * Read the request's own body stream instead of a clone of it (default false: a clone, so
   * `request.json()` still works afterwards). Cloning tees the stream, which costs more than the
   * verification itself on small bodies; with `consumeBody: true` the request's body is used up by
   * the verifier, `request.json()`, `.text()`, `.formData()` then throw, and the app reads the
   * verified bytes from `verified.body` instead (kept whatever `retainBody` says). The checks are
   * the same: size limit, body deadline, digest. `verified.body` is unset when no digest-covered
   * body was read (no body, or with `digestRequired: false` a body no digest covers, whose stream
   * is then left unread on the request).
   */
  consumeBody?: boolean
}

/**
 * A Web `Request` as the verifier reads it, in one object (no closure). The body is read from a
 * clone when the verifier gets to it, so the app can still read the request's own; with
 * `consume`, from the request's own stream.
 */
class RequestIncoming implements IncomingRequest {
  message: RequestMessage
  hasBody: boolean
  mayHaveBody: boolean
  contentLength: number | undefined = undefined
  address: string | undefined
  retainBody: boolean | undefined = undefined
  constructor(
    private readonly request: Request,
    cfg: VerifierConfig,
    address: string | undefined,
    target: RawTarget | undefined,
    private readonly consume = false,
  ) {
    const url = request.url
    // A Request's url is always absolute: splitTarget gives its scheme and host, no URL parse.
    const parts = splitTarget(url)
    // The raw target an adapter saw (Node under Hono) is what was signed; the URL is normalized.
    const raw = target?.path === undefined ? parts : target
    const scheme = parts.scheme ?? 'https'
    const h = request.headers
    const host = h.get('host')
    const origin = requestOrigin(h, scheme, host === null ? NO_LINES : [host], null, target, cfg, parts.authority)
    const withBody = request.body !== null
    // A Web body is a stream whatever the headers say: bytes decide (zero bytes is no body).
    const declared = framingOf(h, !withBody)
    this.message = {
      method: request.method,
      scheme: origin.scheme,
      authority: origin.authority,
      path: raw.path as string,
      query: raw.query ?? '',
      headers: h,
    }
    this.hasBody = declared.hasBody
    this.mayHaveBody = withBody
    this.contentLength = declared.contentLength
    this.address = address || undefined
    // The verifier's copy is the only one the app will have.
    if (consume) this.retainBody = true
  }
  body(): ReadableStream<Uint8Array> | null {
    const body = this.request.body
    if (body === null) return null
    return this.consume ? (body as ReadableStream<Uint8Array>) : (this.request.clone().body as ReadableStream<Uint8Array>)
  }
}

const NO_LINES: readonly string[] = []

/** A raw request target as `splitTarget` gives it; only `authority` and `scheme` may be given alone. */
export type RawTarget = { path?: string; query?: string; authority?: string; scheme?: string }

/**
 * Adapt a Web `Request` for the verifier. The body is read from a clone, so the app can still read
 * it; with `consume`, from the request's own stream, and the bytes are kept on the result. `@authority` is the `Host` header the request carries (what the client sent and the app
 * reads), not the host of `request.url`, which runtimes rewrite (Next.js puts `localhost` there);
 * only a request without a Host header (one built by a client, e.g. under msw) falls back to the
 * URL. `target` is the raw request target an adapter saw (`splitTarget` of it): its path and query
 * are what the view signs, and an absolute-form target's authority and scheme are used as well.
 */
export function incomingFromRequest(
  request: Request,
  verifier: Verifier,
  address?: string,
  target?: RawTarget,
  consume = false,
): IncomingRequest {
  return new RequestIncoming(request, verifier.config, address, target, consume)
}

/**
 * Verify a signed Web `Request` (SPEC §2). Resolves with who signed it; rejects with a
 * `VerificationError` whose `code` and `status` say why. Options are validated once per object.
 * The body is digested from a clone, so the app can still read the request's; with
 * `{ consumeBody: true }` it is read from the request itself (faster) and the app reads
 * `verified.body` (see {@link VerifyRequestContext.consumeBody}).
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
 *
 * @example Without the clone: the app reads the verified bytes, not the request's body
 * ```ts
 * export async function POST(request: Request) {
 *   const { principal, body } = await verify(request, verifier, { consumeBody: true })
 *   const order = JSON.parse(new TextDecoder().decode(body)) // request.json() would throw: its body is used
 *   return Response.json({ by: principal, sku: order.sku })
 * }
 * ```
 */
export function verify(request: Request, options: VerifyOptions | Verifier, context?: VerifyRequestContext): Promise<Verified> {
  const verifier = verifierFor(options)
  try {
    if (context) checkOptions('verify context', context, VERIFY_REQUEST_CONTEXT_NAMES)
    const consume = context?.consumeBody === true
    return verifier.verifyIncoming(new RequestIncoming(request, verifier.config, undefined, undefined, consume), context)
  } catch (e) {
    recordUnbuilt(verifier.config, request.method, e, context?.route)
    return Promise.reject(e)
  }
}

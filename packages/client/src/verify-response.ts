import {
  checkContentDigest,
  type DigestAlgorithm,
  digestStream,
  parseContentDigest,
  RESPONSE_TAG,
  ResponseVerificationError,
  requestFromFetch,
  SigilError,
  verifyResponseMessage,
} from '@sigil/core'
import { resolveSigner, type SignerOptions } from './options.js'

/** How strictly to check signed responses. */
export interface VerifyResponseOptions {
  /** Tag of the response signature. Default `sigil-response`. */
  tag?: string
  /** Largest response body to digest, in bytes. Default 16 MiB. */
  maxBodyBytes?: number
}

const invalid = (message: string, response: Response, cause?: unknown) =>
  new ResponseVerificationError('RESPONSE_SIGNATURE_INVALID', message, { response, ...(cause ? { cause } : {}) })

/**
 * Check a response signed by the server (SPEC §5): a `sigil-response` signature made with our key,
 * covering `@status`, `content-type`, `content-digest` and our request's signature, and a body that
 * matches its `Content-Digest`. Resolves with the same response (its body is read from a clone);
 * rejects with `ResponseVerificationError` (`RESPONSE_SIGNATURE_MISSING` or
 * `RESPONSE_SIGNATURE_INVALID`, status 502). Unsigned error responses (a 401 from the verifier) are
 * refused too: the rejected response is on `error.response` for logging, untrusted.
 *
 * Freshness comes from the request: the response covers the request's signature, whose nonce is
 * single-use, so an old response cannot be replayed against a new request.
 *
 * @example
 * ```ts
 * const signed = await signRequest(request, credentials)
 * const response = await verifyResponse(await fetch(signed), signed, credentials)
 * ```
 */
export async function verifyResponse(
  response: Response,
  request: Request,
  credentials: SignerOptions,
  options: VerifyResponseOptions = {},
): Promise<Response> {
  const s = resolveSigner(credentials)
  const view = { status: response.status, headers: response.headers, request: requestFromFetch(request) }
  try {
    await verifyResponseMessage(view, { keyId: s.keyId, secret: s.secret, requestLabel: s.label, tag: options.tag ?? RESPONSE_TAG })
  } catch (e) {
    // Left unread: the caller may log it (e.g. the problem+json of an unsigned 401).
    if (e instanceof ResponseVerificationError) e.response = response
    throw e
  }
  let declared: Map<DigestAlgorithm, Uint8Array>
  try {
    declared = parseContentDigest(response.headers.get('content-digest') ?? '')
  } catch (e) {
    throw invalid('response Content-Digest is malformed', response, e)
  }
  const body = response.clone().body
  try {
    const { digests } = await digestStream(body ?? new ReadableStream({ start: (c) => c.close() }), {
      algorithms: [...declared.keys()],
      maxBytes: options.maxBodyBytes ?? 16 * 1024 * 1024,
    })
    checkContentDigest(declared, digests)
  } catch (e) {
    if (e instanceof SigilError) throw invalid(`response body does not match its digest (${e.code})`, response, e)
    throw e
  }
  return response
}

import {
  checkContentDigest,
  type DigestAlgorithm,
  type RequestMessage,
  ResponseVerificationError,
  requestFromFetch,
  SigilError,
} from '@sigil/core'
import { digestStream, type HeaderSource, parseContentDigest, RESPONSE_TAG, verifyResponseMessage } from '@sigil/core/internal'
import { type ResolvedSigner, resolveSigner, type SignerOptions } from './options.js'

/** How strictly to check signed responses. */
export interface VerifyResponseOptions {
  /** Tag of the response signature. Default `sigil-response`. */
  tag?: string
  /** Largest response body to digest, in bytes; a larger one is `RESPONSE_TOO_LARGE`. Default 16 MiB. */
  maxBodyBytes?: number
  /**
   * The body handed to {@link verifyResponse} is the content as sent, still content-coded (you read
   * it below the decoding layer). Default false: a `Response` from fetch is already decoded, and
   * RFC 9530 digests cover the coded bytes, so a content-coded response cannot be checked.
   */
  bodyIsEncoded?: boolean
}

export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024

/** Statuses that never carry content (RFC 9110 §6.4.1), like every answer to HEAD. */
const NULL_BODY = new Set([101, 103, 204, 205, 304])

/** A response as seen by the checks, whatever delivered it (fetch or an undici handler). */
export interface ResponseView {
  status: number
  headers: HeaderSource
  /** Method of the request it answers: a HEAD response has no content to check. */
  method: string
  request: RequestMessage
}

/** True when the response carries content whose bytes must match `Content-Digest`. */
export function hasContent(r: Pick<ResponseView, 'status' | 'method'>): boolean {
  return r.method !== 'HEAD' && !NULL_BODY.has(r.status)
}

/**
 * Check the signature of a response (SPEC §5) and return the digests to compare its content with
 * (`null` when it has no content: HEAD, 204, 304 — the signed `Content-Digest` then describes a
 * body that is not delivered, and there are no bytes to accept or refuse).
 */
export async function checkResponseHead(
  r: ResponseView,
  s: ResolvedSigner,
  tag: string | undefined,
): Promise<Map<DigestAlgorithm, Uint8Array> | null> {
  await verifyResponseMessage(
    { status: r.status, headers: r.headers, request: r.request },
    { keyId: s.keyId, secret: s.secret, requestLabel: s.label, tag: tag ?? RESPONSE_TAG },
  )
  if (!hasContent(r)) return null
  try {
    return parseContentDigest(r.headers.get('content-digest') ?? '')
  } catch (e) {
    throw new ResponseVerificationError('RESPONSE_SIGNATURE_INVALID', 'response Content-Digest is malformed', { cause: e })
  }
}

/** Compare the content (as sent) with the signed digests; over the limit is its own code. */
export async function checkResponseBody(
  declared: Map<DigestAlgorithm, Uint8Array>,
  body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  maxBodyBytes: number,
): Promise<void> {
  try {
    const { digests } = await digestStream(body, { algorithms: [...declared.keys()], maxBytes: maxBodyBytes })
    checkContentDigest(declared, digests)
  } catch (e) {
    if (e instanceof SigilError && e.code === 'BODY_TOO_LARGE') {
      throw new ResponseVerificationError(
        'RESPONSE_TOO_LARGE',
        `response body is larger than maxBodyBytes (${maxBodyBytes}): not verified`,
        {
          cause: e,
        },
      )
    }
    if (e instanceof SigilError) {
      throw new ResponseVerificationError('RESPONSE_SIGNATURE_INVALID', `response body does not match its digest (${e.code})`, { cause: e })
    }
    throw e
  }
}

// fetch decodes the codings it knows; `aes128gcm` (SPEC §8) it leaves alone, so its bytes are
// still the ones the server digested.
const encoded = (headers: HeaderSource) => {
  const ce = (headers.get('content-encoding') ?? '').trim().toLowerCase()
  return ce !== '' && ce !== 'identity' && ce !== 'aes128gcm'
}

/**
 * Check a response signed by the server (SPEC §5): a `sigil-response` signature made with our key,
 * covering `@status`, `content-type`, `content-digest` and our request's signature, and content
 * that matches its `Content-Digest`. Resolves with the same response (its body is read from a
 * clone); rejects with `ResponseVerificationError`: `RESPONSE_SIGNATURE_MISSING`,
 * `RESPONSE_SIGNATURE_INVALID`, or `RESPONSE_TOO_LARGE` (over `maxBodyBytes`, not checked), all
 * status 502. Unsigned error responses (a 401 from the verifier) are refused too: the rejected
 * response is on `error.response` for logging, untrusted.
 *
 * `Content-Digest` covers the content as sent, after content coding (RFC 9530 §2). fetch hands
 * back decoded bytes, so a content-coded response (`Content-Encoding: gzip`, `br`, `deflate`…) is
 * refused unless `bodyIsEncoded` says the body is still coded. Answers to HEAD and 204/304 have no
 * content: only their signature is checked.
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
  const view: ResponseView = {
    status: response.status,
    headers: response.headers,
    method: request.method,
    request: requestFromFetch(request),
  }
  try {
    const declared = await checkResponseHead(view, s, options.tag)
    if (declared === null) return response
    if (encoded(response.headers) && !options.bodyIsEncoded) {
      throw new ResponseVerificationError(
        'RESPONSE_SIGNATURE_INVALID',
        'response is content-coded and fetch decoded it: its digest covers the coded bytes, which are gone. Ask for Accept-Encoding: identity, or verify with the undici interceptor',
      )
    }
    const body = response.clone().body
    await checkResponseBody(
      declared,
      body ?? new ReadableStream({ start: (c) => c.close() }),
      options.maxBodyBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    )
  } catch (e) {
    // Left unread: the caller may log it (e.g. the problem+json of an unsigned 401).
    if (e instanceof ResponseVerificationError) e.response = response
    throw e
  }
  return response
}

/**
 * Signed responses (SPEC §5): the server signs its answer with the key that signed the request,
 * covering `@status`, `content-type`, `content-digest` and the request's signature
 * (`"signature";req;key="<label>"`, RFC 9421 §2.4), tag `sigil-response`. Clients opt in with
 * `createSignedFetch({ verifyResponses: responseVerifier() })` and then refuse anything unsigned or altered.
 *
 * Three entry points, one per kind of framework:
 * - {@link signResponse}`(response, verified, request, { verifier })` → a new Web `Response`
 *   (hono, msw, fetch handlers).
 * - {@link signNodeResponse}`(res, verified, req, { verifier })`, called before the handler writes:
 *   buffers what the handler writes to a `ServerResponse` and signs it on `end()` (node:http,
 *   express, fastify's `reply.raw`). `withSigil(..., { signResponses: true })` does this for you.
 * - {@link responseSignatureHeaders} for anything else: status, headers and body bytes in, the three
 *   header values out.
 *
 * The body is buffered: headers go out before the body, and the digest must be in them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { contentDigest, type DigestAlgorithm, type RequestMessage, SigilError } from '@sigil/core'
import {
  checkOptions,
  deriveEncryptionKey,
  ECE_CODING,
  encryptBytes,
  type HeaderSource,
  headersFromGetter,
  headersFromRecord,
  keyStatusAt,
  signResponseMessage,
} from '@sigil/core/internal'
import type { Verified } from './incoming.js'
import { SIGN_RESPONSE_NAMES } from './option-names.js'
import type { VerifyOptions } from './options.js'
import type { Verifier } from './verifier.js'
import { verifierFor } from './verify.js'

/** Options of {@link signResponse}, {@link signNodeResponse} and {@link responseSignatureHeaders}. */
export interface SignResponseOptions {
  /** The verifier (or verify options) that accepted the request: its key store supplies the key. */
  verifier: Verifier | VerifyOptions
  /** Response signature tag. Default `sigil-response`. */
  tag?: string
  /** Response signature label. Default `sig1`. */
  label?: string
  /** Default `sha-256`. */
  digestAlgorithm?: DigestAlgorithm
  /**
   * Encrypt the response body for the request's key (SPEC §8) when the request asked for it
   * (`Sigil-Accept-Encoding: aes128gcm`): `Content-Encoding: aes128gcm`, and `Content-Digest` over
   * the encrypted bytes. Default false.
   */
  encryptResponses?: boolean
}

/** The headers to add to a response: `content-digest`, `signature-input`, `signature`. */
export type ResponseSignatureHeaders = Record<'content-digest' | 'signature-input' | 'signature', string>

/**
 * Compute the signature headers of a response. `requestHeaders` are the verified request's (its
 * `Signature` is covered).
 *
 * @example
 * ```ts
 * const h = await responseSignatureHeaders(200, new Headers({ 'content-type': 'application/json' }), bytes, verified, req.headers, { verifier })
 * ```
 */
export async function responseSignatureHeaders(
  status: number,
  headers: HeaderSource,
  body: Uint8Array,
  verified: Verified,
  requestHeaders: HeaderSource,
  options: SignResponseOptions,
): Promise<ResponseSignatureHeaders> {
  checkOptions('response signing options', options, SIGN_RESPONSE_NAMES)
  const cfg = verifierFor(options.verifier).config
  const key = await cfg.keys.get(verified.keyId)
  // The verifier's liveness rule at the verifier's clock: a key revoked or expired since the
  // request was verified does not sign its answer.
  if (key === undefined || keyStatusAt(key, cfg.now()) !== 'active')
    throw new SigilError('KEY_UNKNOWN', 'the request key cannot sign the response')
  const digest = contentDigest(body, options.digestAlgorithm ?? 'sha-256')
  const view: HeaderSource = { get: (n) => (n === 'content-digest' ? digest : n.startsWith('signature') ? null : headers.get(n)) }
  // Only the request's headers are read (for "signature";req); the rest of the view is unused.
  const request: RequestMessage = { method: '', scheme: '', authority: '', path: '', query: '', headers: requestHeaders }
  const signed = await signResponseMessage(
    { status, headers: view, request },
    {
      keyId: key.keyId,
      secret: key.secret,
      created: Math.floor(cfg.now() / 1000),
      requestLabel: verified.label,
      hmac: cfg.hmac,
      ...(options.tag ? { tag: options.tag } : {}),
      ...(options.label ? { label: options.label } : {}),
    },
  )
  return { 'content-digest': digest, 'signature-input': signed.signatureInput, signature: signed.signature }
}

export const NULL_BODY = new Set([101, 103, 204, 205, 304])

/** The request header that asks for an encrypted response (SPEC §8). */
export const ACCEPT_ENCRYPTION = 'sigil-accept-encoding'

/**
 * The body encrypted for the request's key, when the request asked for it (SPEC §8); undefined
 * when it did not. `headers` (a Headers, or the node response's view) gets `Content-Encoding` and
 * `Vary` when it is a Headers; the node path sets them itself. A body that already has a content
 * coding is refused: one coding, so the client can check and decrypt what it gets.
 */
export async function encryptResponseBody(
  body: Uint8Array,
  headers: HeaderSource,
  verified: Verified,
  requestHeaders: HeaderSource,
  options: SignResponseOptions,
): Promise<Uint8Array | undefined> {
  const asked = (requestHeaders.get(ACCEPT_ENCRYPTION) ?? '').split(',').some((t) => t.trim().toLowerCase() === ECE_CODING)
  if (!asked) return undefined
  const ce = (headers.get('content-encoding') ?? '').trim().toLowerCase()
  if (ce !== '' && ce !== 'identity')
    throw new SigilError('CONFIGURATION_INVALID', 'a response with a Content-Encoding cannot also be encrypted')
  const cfg = verifierFor(options.verifier).config
  const key = await cfg.keys.get(verified.keyId)
  if (key?.status !== 'active') throw new SigilError('KEY_UNKNOWN', 'the request key cannot encrypt the response')
  const sealed = await encryptBytes(body, { key: await deriveEncryptionKey(key.secret, key.keyId), keyId: key.keyId })
  if (headers instanceof Headers) {
    headers.set('content-encoding', ECE_CODING)
    headers.append('vary', ACCEPT_ENCRYPTION)
  }
  return sealed
}

/**
 * Sign a Web `Response` to a verified request; returns a new `Response` with `Content-Digest`,
 * `Signature-Input` and `Signature`. The body is read (buffered) to digest it.
 *
 * @example
 * ```ts
 * const verified = await verify(request, verifier)
 * return signResponse(Response.json({ ok: true }), verified, request, { verifier })
 * ```
 */
export async function signResponse(
  response: Response,
  verified: Verified,
  request: Request | { headers: HeaderSource },
  options: SignResponseOptions,
): Promise<Response> {
  let body: Uint8Array = new Uint8Array(await response.arrayBuffer())
  const headers = new Headers(response.headers)
  if (options.encryptResponses && !NULL_BODY.has(response.status)) {
    const sealed = await encryptResponseBody(body, headers, verified, request.headers, options)
    if (sealed) body = sealed
  }
  const added = await responseSignatureHeaders(response.status, headers, body, verified, request.headers, options)
  for (const [k, v] of Object.entries(added)) headers.set(k, v)
  return new Response(NULL_BODY.has(response.status) ? null : (body as Uint8Array<ArrayBuffer>), {
    status: response.status,
    statusText: response.statusText,
    headers,
  })
}

type Chunk = string | Uint8Array
const bytesOf = (c: Chunk, enc?: unknown) => (typeof c === 'string' ? Buffer.from(c, (enc as BufferEncoding) ?? 'utf8') : c)

/**
 * Sign whatever a handler writes to a `node:http` response: call it before the handler. Writes are
 * buffered until `end()`, then sent once with the signature headers. If the key cannot be read the
 * response becomes a bodiless 500 (never an unsigned success).
 *
 * @example
 * ```ts
 * createServer(async (req, res) => {
 *   const verified = await verifyNodeRequest(req, verifier)
 *   signNodeResponse(res, verified, req, { verifier })
 *   res.end(JSON.stringify({ ok: true }))
 * })
 * ```
 */
export function signNodeResponse(res: ServerResponse, verified: Verified, req: IncomingMessage, options: SignResponseOptions): void {
  checkOptions('response signing options', options, SIGN_RESPONSE_NAMES)
  const chunks: Uint8Array[] = []
  const { end, write, writeHead } = res
  res.writeHead = ((status: number, a?: unknown, b?: unknown) => {
    res.statusCode = status
    if (typeof a === 'string') res.statusMessage = a
    const h = typeof a === 'string' ? b : a
    if (Array.isArray(h)) for (let i = 0; i + 1 < h.length; i += 2) res.setHeader(String(h[i]), h[i + 1])
    else if (h) for (const [k, v] of Object.entries(h as Record<string, string>)) if (v !== undefined) res.setHeader(k, v)
    return res
  }) as typeof res.writeHead
  res.write = ((chunk: Chunk, enc?: unknown, cb?: unknown) => {
    chunks.push(bytesOf(chunk, enc))
    ;(typeof enc === 'function' ? enc : (cb as (() => void) | undefined))?.()
    return true
  }) as typeof res.write
  res.end = ((chunk?: unknown, enc?: unknown, cb?: unknown) => {
    if (typeof chunk === 'function') cb = chunk
    else if (chunk !== undefined && chunk !== null) chunks.push(bytesOf(chunk as Chunk, typeof enc === 'function' ? undefined : enc))
    if (typeof enc === 'function') cb = enc
    res.end = end
    res.write = write
    res.writeHead = writeHead
    let body: Uint8Array = Buffer.concat(chunks)
    const headers = headersFromGetter((n) => res.getHeader(n))
    const reqHeaders = headersFromRecord(req.headersDistinct ?? {})
    const sealing =
      options.encryptResponses && req.method !== 'HEAD' && !NULL_BODY.has(res.statusCode)
        ? encryptResponseBody(body, headers, verified, reqHeaders, options)
        : Promise.resolve(undefined)
    sealing
      .then((sealed) => {
        if (sealed) {
          body = sealed
          res.setHeader('content-encoding', ECE_CODING)
          res.setHeader('vary', res.hasHeader('vary') ? `${headers.get('vary')}, ${ACCEPT_ENCRYPTION}` : ACCEPT_ENCRYPTION)
        }
        return responseSignatureHeaders(res.statusCode, headers, body, verified, reqHeaders, options)
      })
      .then(
        (added) => {
          for (const [k, v] of Object.entries(added)) res.setHeader(k, v)
          res.removeHeader('transfer-encoding')
          if (req.method !== 'HEAD' && !NULL_BODY.has(res.statusCode)) res.setHeader('content-length', body.byteLength)
          res.end(body, cb as () => void)
        },
        () => {
          for (const n of res.getHeaderNames()) res.removeHeader(n)
          res.statusCode = 500
          res.end()
        },
      )
    return res
  }) as typeof res.end
}

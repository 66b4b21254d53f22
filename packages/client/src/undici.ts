import { stringify } from 'node:querystring'
import { ConfigurationError, contentDigest, type RequestMessage, ResponseVerificationError, type SignedHeaders } from '@sigil/core'
import { createHasher, formatContentDigest, headersFromRecord, normalizeAuthority, splitTarget } from '@sigil/core/internal'
import type { Dispatcher } from 'undici'
import { blobChunks } from './body.js'
import { bool, notEncrypting, str } from './check-options.js'
import { wireMethod } from './method.js'
import { resolveSignerWith, SIGNER_SHAPE, type SignerOptions } from './options.js'
import { signViewSync } from './sign-request.js'
import { type DispatchBody, knownBytes, readBody } from './undici-body.js'
import { RedirectGuardHandler, redirectChainOrigin, VerifyingHandler } from './undici-response.js'
import { checkResponseBody, checkResponseHead, DEFAULT_MAX_RESPONSE_BYTES, type VerifyResponseOptions } from './verify-response.js'

/** Options of {@link createSigningInterceptor}. */
export type SigningInterceptorOptions = SignerOptions & {
  /**
   * The origin requests go to, e.g. `https://api.example.com`. Required when composing onto a
   * `Pool` or `Client` (their dispatch options carry no origin); on an `Agent` it pins the
   * interceptor to that origin (a request for another one is refused).
   */
  origin?: string
  /**
   * Buffer stream and iterable bodies (fetch hands every body to the dispatcher as a stream) to
   * digest them. Off by default; without it such a body fails with a clear error.
   */
  bufferStreams?: boolean
  /** Upper bound on a buffered body. Default 16 MiB. */
  maxBufferBytes?: number
  /**
   * Require signed responses (SPEC §5) and check them before the caller sees them. The body is
   * checked as it came off the socket, still content-coded, which is what the server's
   * `Content-Digest` covers: gzip/br/deflate responses verify here (compose a decompress
   * interceptor *after* this one). Failures reach the caller as `ResponseVerificationError`.
   */
  verifyResponses?: boolean | Omit<VerifyResponseOptions, 'bodyIsEncoded'>
}

type Headers = Record<string, string>

function normalizeHeaders(h: Dispatcher.DispatchOptions['headers']): Headers {
  const out: Headers = Object.create(null)
  const add = (k: string, v: unknown) => {
    if (v === undefined || v === null) return
    const key = k.toLowerCase()
    const val = Array.isArray(v) ? v.map(String).join(', ') : String(v)
    out[key] = key in out ? `${out[key]}, ${val}` : val
  }
  if (!h) return out
  if (Array.isArray(h) && Array.isArray(h[0])) {
    // An array of [name, value] pairs (e.g. Object.entries), which undici also accepts.
    for (const [k, v] of h as unknown as [string, string | string[]][]) add(String(k), v)
  } else if (Array.isArray(h)) {
    for (let i = 0; i + 1 < h.length; i += 2) add(String(h[i]), h[i + 1])
  } else if (typeof (h as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const [k, v] of h as Iterable<[string, string | string[]]>) add(k, v)
  } else {
    for (const [k, v] of Object.entries(h)) add(k, v)
  }
  return out
}

const controller = { abort() {}, pause() {}, resume() {}, aborted: false, paused: false, reason: null }

function fail(handler: Dispatcher.DispatchHandler, err: Error): void {
  const h = handler as Dispatcher.DispatchHandler & { onResponseError?: (c: unknown, e: Error) => void; onError?: (e: Error) => void }
  if (h.onResponseError) h.onResponseError(controller, err)
  else h.onError?.(err)
}

/** The target undici will send: `query` appended the way undici appends it (node:querystring). */
function targetOf(opts: Dispatcher.DispatchOptions): string {
  const query = (opts as { query?: Record<string, unknown> }).query
  if (!query) return opts.path
  if (/[?#]/.test(opts.path)) throw new ConfigurationError('query cannot be passed when the path already has "?" or "#"')
  const q = stringify(query as Parameters<typeof stringify>[0])
  return q ? `${opts.path}?${q}` : opts.path
}

/**
 * Headers whose signature is minted again each time undici reads them to build a request. A
 * retry interceptor composed *inside* the signer (`compose(retry(), signing)`) re-dispatches the
 * same options; undici then reads the signature headers again and gets a fresh `created` and nonce
 * instead of replaying the first ones (`NONCE_REPLAYED`). A pair is served once per header: reading
 * a header a second time mints the next pair, so the two always match whichever is read first.
 * `current()` is the pair last handed out, for response verification.
 */
function resigningHeaders(base: Headers, sign: () => SignedHeaders): { headers: Headers; current: () => SignedHeaders } {
  let pair = sign()
  const read = { input: false, sig: false }
  const serve = (which: 'input' | 'sig') => {
    if (read[which]) {
      pair = sign()
      read.input = false
      read.sig = false
    }
    read[which] = true
    return pair
  }
  const headers: Headers = { ...base }
  Object.defineProperty(headers, 'signature-input', { enumerable: true, get: () => serve('input').signatureInput })
  Object.defineProperty(headers, 'signature', { enumerable: true, get: () => serve('sig').signature })
  return { headers, current: () => pair }
}

/**
 * An undici interceptor that signs every request dispatched through it (SPEC §1), exactly as
 * undici sends it: method normalized like fetch, `query` appended, FormData/Blob/ArrayBuffer/
 * DataView/URLSearchParams bodies digested as the bytes that go out. Works on `Agent`, and on
 * `Pool`/`Client` with `origin`. Retries are re-signed in either compose order; `RetryAgent` or
 * `compose(signing, retry())` (retry outermost) is the plain way.
 *
 * @example
 * ```ts
 * import { Agent, interceptors, request } from 'undici'
 * import { createSigningInterceptor } from '@sigil/client/undici'
 * const dispatcher = new Agent().compose(createSigningInterceptor({ token: process.env.SIGIL_TOKEN! }), interceptors.retry())
 * await request('https://api.example.com/v1/orders', { dispatcher })
 * ```
 */
export function createSigningInterceptor(options: SigningInterceptorOptions): Dispatcher.DispatcherComposeInterceptor {
  const signer = resolveSignerWith(options, {
    ...SIGNER_SHAPE,
    origin: str(),
    bufferStreams: bool,
    maxBufferBytes: null,
    verifyResponses: null,
    encryptBody: notEncrypting('the undici interceptor'),
  })
  const maxBuffer = options.maxBufferBytes ?? 16 * 1024 * 1024
  const pinned = options.origin === undefined ? undefined : new URL(options.origin).origin
  const verify = options.verifyResponses === true ? {} : options.verifyResponses || undefined
  return (dispatch) => (opts, handler) => {
    const send = (body: DispatchBody, digest: string | null): boolean => {
      const given = opts.origin === undefined || opts.origin === null ? undefined : new URL(String(opts.origin)).origin
      if (given === undefined && pinned === undefined) {
        throw new ConfigurationError('no origin in the dispatch options: pass origin to createSigningInterceptor on a Pool or Client')
      }
      if (given !== undefined && pinned !== undefined && given !== pinned) {
        throw new ConfigurationError('request origin differs from the interceptor origin')
      }
      const origin = new URL((given ?? pinned) as string)
      const method = wireMethod(opts.method)
      const target = targetOf(opts)
      const base = normalizeHeaders(opts.headers)
      delete base.signature
      delete base['signature-input']
      if (digest !== null) base['content-digest'] = digest
      if (body.contentType && base['content-type'] === undefined) base['content-type'] = body.contentType
      const scheme = origin.protocol.slice(0, -1)
      const { path, query } = splitTarget(target)
      const view: RequestMessage = {
        method,
        scheme,
        authority: normalizeAuthority(base.host ?? origin.host, scheme),
        path,
        query,
        headers: headersFromRecord(base),
      }
      const hasBody = body.bytes !== null || body.blob !== undefined
      const out: Dispatcher.DispatchOptions = { ...opts, method: method as Dispatcher.HttpMethod, path: target }
      delete (out as { query?: unknown }).query
      if (body.blob) out.body = body.blob as unknown as Dispatcher.DispatchOptions['body']
      else if (body.bytes) out.body = body.bytes
      // A redirect interceptor composed outside us re-dispatches every hop here: a hop to another
      // origin goes out unsigned (a signature never leaves the origin the chain started on).
      const chain = redirectChainOrigin(handler)
      if (chain !== undefined && chain !== origin.origin) {
        // Its answer cannot carry our signature: with verifyResponses that is a refusal, not a pass.
        if (verify) throw new ResponseVerificationError('RESPONSE_SIGNATURE_MISSING', 'a redirect to another origin cannot be verified')
        return dispatch({ ...out, headers: base }, handler)
      }
      const { headers, current } = resigningHeaders(base, () => signViewSync(view, hasBody, signer))
      out.headers = headers
      let h: Dispatcher.DispatchHandler = new RedirectGuardHandler(handler)
      if (verify) {
        const signedView: RequestMessage = {
          ...view,
          headers: {
            get: (n) => (n === 'signature' ? current().signature : n === 'signature-input' ? current().signatureInput : (base[n] ?? null)),
          },
        }
        const max = verify.maxBodyBytes ?? DEFAULT_MAX_RESPONSE_BYTES
        h = new VerifyingHandler(
          h,
          async (status, rh, bytes) => {
            const declared = await checkResponseHead({ status, headers: rh, method, request: signedView }, signer, verify.tag)
            if (declared) await checkResponseBody(declared, [bytes] as unknown as AsyncIterable<Uint8Array>, max)
          },
          max,
        )
      }
      return dispatch(out, h)
    }
    try {
      const bytes = knownBytes(opts.body)
      if (bytes !== undefined) return send({ bytes }, bytes === null ? null : contentDigest(bytes, signer.digestAlgorithm))
    } catch (e) {
      fail(handler, e as Error)
      return true
    }
    ;(async () => {
      // undici.request's signal: checked between chunks while we read and hash, before dispatching.
      const signal = (opts as { signal?: AbortSignal | null }).signal
      const aborted = signal && typeof signal.throwIfAborted === 'function' ? signal : undefined
      const b = await readBody(opts.body, options.bufferStreams ?? false, maxBuffer, aborted)
      let value: string
      if (b.blob) {
        const hasher = createHasher(signer.digestAlgorithm)
        for await (const c of blobChunks(b.blob)) {
          aborted?.throwIfAborted()
          hasher.update(c)
        }
        value = formatContentDigest(signer.digestAlgorithm, hasher.digest())
      } else value = contentDigest(b.bytes as Uint8Array, signer.digestAlgorithm)
      send(b, value)
    })().catch((e: Error) => fail(handler, e))
    return true
  }
}

import { ECE_CODING, requestFromUrl } from '@sigil/core/internal'
import { digestPrepared, type PreparedBody, prepareBody, sendable } from './body.js'
import { bool, type Check, fn, type Shape } from './check-options.js'
import { DEFAULT_MAX_CLOCK_CORRECTION_MS, skewCorrection } from './clock-skew.js'
import { ACCEPT_ENCRYPTION, refuseCodedBody } from './encrypt-body.js'
import { wireMethod } from './method.js'
import { resolveSignerWith, SIGNER_SHAPE, type SignerOptions } from './options.js'
import { type Hop, nextHop, REQUEST_BODY_HEADERS, type RedirectPolicy } from './redirect.js'
import type { ResponseVerifier } from './responses.js'
import { signView } from './sign-request.js'

export type { BodyFactory } from './body.js'

/** What the signed fetch hands the fetch it wraps, with the URL of the hop. */
export type SignedFetchInit = RequestInit & {
  method: string
  headers: Headers
  body: BodyInit | null
  redirect: 'manual'
  /** Present when the body is a stream (Blob bodies and factories on some runtimes). */
  duplex?: 'half'
}

/** `RequestInit` members a `Request` given as input carries over to the request we send. */
const CARRIED = ['cache', 'credentials', 'integrity', 'keepalive', 'mode', 'referrer', 'referrerPolicy'] as const

/**
 * Drop a response's body: a Web stream is cancelled; node-fetch hands back a Node stream, which
 * has no `cancel` and is destroyed instead.
 */
async function discard(res: Response): Promise<void> {
  const body = res.body as (ReadableStream & { destroy?: never }) | { destroy(): void } | null
  if (!body) return
  if (typeof (body as ReadableStream).cancel === 'function') await (body as ReadableStream).cancel()
  else (body as { destroy(): void }).destroy?.()
}

/**
 * Fetch's rule for an init member (Fetch, "new Request"): a member that is absent or `undefined`
 * keeps the input `Request`'s value; any other value (`null` included, where allowed) replaces it.
 */
function given<K extends keyof RequestInit>(init: RequestInit | undefined, key: K): init is RequestInit & Record<K, unknown> {
  return init !== undefined && init !== null && init[key] !== undefined
}

/** Options of {@link createSignedFetch}. */
export type SignedFetchOptions = SignerOptions & {
  /**
   * The fetch to wrap (jose's `customFetch`). Default: global `fetch`. It is called as any fetch
   * can be: `fetch(url, init)`, with a URL string and an init carrying the method, the signed
   * headers, the body (bytes, a `Blob`, or a `ReadableStream` with `duplex: 'half'`) and
   * `redirect: 'manual'` — so npm undici's `fetch` (a `dispatcher` in the init reaches it) and
   * node-fetch v3 work as well as the global one. Look at the request with `new Request(url, init)`.
   */
  fetch?: (url: string, init: SignedFetchInit) => Promise<Response>
  /**
   * On a `CLOCK_SKEW` rejection, learn the offset from the response's `Date`, re-sign and retry
   * once. Default true. The offset is kept for later requests only once the retry was accepted.
   */
  clockSkewRetry?: boolean
  /**
   * Largest clock correction taken from a (never signed, so forgeable) `CLOCK_SKEW` answer, in
   * milliseconds. Default 300 000, the server's default window: a larger one would make us sign
   * requests that only verify in the future. Raise it only to match a server's larger window.
   */
  maxClockCorrectionMs?: number
  /**
   * Buffer one-shot `ReadableStream` bodies in memory to digest them. Off by default: pass a
   * `Blob` (e.g. `fs.openAsBlob`) or a body factory to stream in constant memory instead.
   */
  bufferStreams?: boolean
  /**
   * Require responses signed by the server (SPEC §5) and check them, body digest included, before
   * anything else sees them; a missing or wrong signature rejects with `ResponseVerificationError`.
   * Pass `responseVerifier()` from `@sigil/client/responses` (kept out of the main entry point so
   * apps that do not verify do not carry its weight); `true` or a plain options object is refused
   * with a `ConfigurationError` that says so. Sends `Accept-Encoding: identity` unless you set one:
   * fetch decodes compressed bodies before we could hash the bytes the server signed, so a
   * content-coded response is refused (use the undici interceptor's `verifyResponses`, which sees
   * the encoded bytes). Default: responses are not checked.
   */
  verifyResponses?: ResponseVerifier | false
  /**
   * With `init.redirect: 'follow'`: redirects are followed by hand, re-signed for every hop on the
   * original origin; other origins only with `crossOrigin: true`, and then unsigned.
   */
  redirects?: RedirectPolicy
  /**
   * Look at (or replace) each response, after `verifyResponses` has checked it. The request is the
   * one sent (URL, method, signed headers), without its body.
   */
  onResponse?: (response: Response, request: Request) => Promise<Response> | Response
}

/** `verifyResponses` takes a verifier; `true` and bare options (what it took before) say how to get one. */
const verifier: Check = (v, f) =>
  v === false || (typeof v === 'object' && v !== null && typeof (v as { verify?: unknown }).verify === 'function')
    ? undefined
    : [
        f,
        "expected a verifier: import { responseVerifier } from '@sigil/client/responses' and pass verifyResponses: responseVerifier() (its options, e.g. maxBodyBytes, go to responseVerifier)",
      ]

const FETCH_SHAPE: Shape = {
  ...SIGNER_SHAPE,
  fetch: fn,
  clockSkewRetry: bool,
  maxClockCorrectionMs: null,
  bufferStreams: bool,
  verifyResponses: verifier,
  redirects: null,
  onResponse: fn,
}

/**
 * A `fetch` that signs every request (SPEC §1) exactly as it goes on the wire (method case
 * included). Each attempt gets a fresh `created` and nonce; a `CLOCK_SKEW` rejection corrects the
 * clock from the server's `Date` (within `maxClockCorrectionMs`) and retries once. Bodies given as
 * `Blob` or as a factory are digested and sent as streams, in constant memory. Redirects are not
 * followed unless `init.redirect` is `'follow'`; then each same-origin hop is re-signed.
 *
 * @example
 * ```ts
 * import { createSignedFetch } from '@sigil/client'
 * const api = createSignedFetch({ token: process.env.SIGIL_TOKEN! })
 * const res = await api('https://api.example.com/v1/orders', { method: 'POST', body: JSON.stringify({ sku: 'A-1' }) })
 * ```
 */
export function createSignedFetch(options: SignedFetchOptions): typeof fetch {
  const signer = resolveSignerWith(options, FETCH_SHAPE)
  // Resolve the global fetch per call, so mocks installed later (msw) are honoured.
  const doFetch = options.fetch ?? ((url: string, init: SignedFetchInit) => globalThis.fetch(url, init))
  const retrySkew = options.clockSkewRetry ?? true
  const maxCorrection = options.maxClockCorrectionMs ?? DEFAULT_MAX_CLOCK_CORRECTION_MS
  const responses = options.verifyResponses || undefined
  const maxRedirects = options.redirects?.maxRedirects ?? 20

  const signedFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const fromRequest = input instanceof Request
    const base = fromRequest ? input : new Request(input)
    // As `new Request(input, init)` does: a `signal: null` drops the input's signal.
    const signal = (given(init, 'signal') ? init.signal : fromRequest ? input.signal : undefined) ?? undefined
    // Fetch takes the init's body only when it is neither undefined nor null; otherwise the input
    // Request's body stays (read from a clone: the caller's Request is left unread).
    const initBody = init?.body ?? undefined
    const rawBody = initBody !== undefined ? initBody : fromRequest && input.body ? await input.clone().arrayBuffer() : undefined
    let { prepared, contentType } = await prepareBody(rawBody, options.bufferStreams ?? false, signal)
    // An init's headers replace the Request's (they are not merged), as in fetch.
    let headers = new Headers(given(init, 'headers') ? init.headers : fromRequest ? input.headers : undefined)
    if (initBody !== undefined && contentType && !headers.has('content-type')) headers.set('content-type', contentType)
    if (signer.encryptBody) {
      // SPEC §8: encrypted before the digest, which covers the bytes as sent; answers asked encrypted.
      headers.set(ACCEPT_ENCRYPTION, ECE_CODING)
      if (prepared) {
        refuseCodedBody(headers)
        prepared = await signer.encryptBody.encryptPrepared(prepared, signer, signal)
        headers.set('content-encoding', ECE_CODING)
      }
    }
    if (prepared) headers.set('content-digest', await digestPrepared(prepared, signer.digestAlgorithm, signal))
    if (responses && !headers.has('accept-encoding')) headers.set('accept-encoding', 'identity')
    const carried: RequestInit = {}
    if (fromRequest) for (const k of CARRIED) if (!given(init, k)) (carried as Record<string, unknown>)[k] = input[k]
    const mode = init?.redirect ?? 'manual'
    const origin = new URL(base.url).origin

    const attempt = async (hop: Hop, body: PreparedBody | null, offsetMs: number) => {
      const h = new Headers(headers)
      h.delete('signature')
      h.delete('signature-input')
      // Signature headers never leave the origin the caller addressed, unless asked to sign there.
      if (new URL(hop.url).origin === origin || options.redirects?.crossOrigin === 'sign') {
        const signed = await signView(requestFromUrl(hop.method, hop.url, h), body !== null, signer, offsetMs)
        h.set('signature-input', signed.signatureInput)
        h.set('signature', signed.signature)
      }
      const sent: SignedFetchInit = {
        ...init,
        // After the init: it holds only what the init leaves undefined.
        ...carried,
        // Always manual underneath: a hop is followed (and re-signed) here, or not at all.
        redirect: 'manual',
        method: hop.method,
        headers: h,
        body: body ? sendable(body, signal) : null,
      }
      if (body && !body.bytes) sent.duplex = 'half'
      if (signal) sent.signal = signal
      else delete sent.signal
      return { res: await doFetch(hop.url, sent), sent, url: hop.url }
    }
    // The request as it went out (no body: that was sent), for the response check and onResponse.
    const sentRequest = (url: string, sent: SignedFetchInit) => new Request(url, { method: sent.method, headers: sent.headers })

    let hop: Hop = { url: base.url, method: wireMethod(given(init, 'method') ? String(init.method) : base.method), keepBody: true }
    for (let hops = 0; ; hops++) {
      let { res, sent, url } = await attempt(hop, prepared, signer.clockOffsetMs)
      let learnt: number | undefined
      const signedHop = sent.headers.has('signature')
      const offset = retrySkew && signedHop ? await skewCorrection(res, signer.now(), maxCorrection) : undefined
      if (offset !== undefined) {
        await discard(res)
        ;({ res, sent, url } = await attempt(hop, prepared, offset))
        if (res.status !== 401) learnt = offset
      }
      const req = responses || options.onResponse ? sentRequest(url, sent) : undefined
      if (responses) res = await responses.verify(res, req as Request, options)
      // Checked (over the encrypted bytes) first, then decrypted as the app reads it.
      if (signer.encryptBody) res = await signer.encryptBody.decryptResponse(res, signer)
      // Kept only once the retried request was accepted (and its answer verified, when asked).
      if (learnt !== undefined) signer.clockOffsetMs = learnt
      const next = mode === 'manual' ? undefined : nextHop(res, hop.url, hop.method)
      if (!next) return options.onResponse ? options.onResponse(res, req as Request) : res
      if (mode === 'error') {
        await discard(res)
        throw new TypeError('redirect received with redirect: "error"')
      }
      if (new URL(next.url).origin !== origin && !options.redirects?.crossOrigin) {
        return options.onResponse ? options.onResponse(res, req as Request) : res
      }
      if (hops >= maxRedirects) {
        await discard(res)
        throw new TypeError(`more than ${maxRedirects} redirects`)
      }
      await discard(res)
      if (!next.keepBody && prepared) {
        prepared = null
        contentType = undefined
        headers = new Headers(headers)
        for (const n of REQUEST_BODY_HEADERS) headers.delete(n)
      }
      hop = next
    }
  }
  return signedFetch as typeof fetch
}

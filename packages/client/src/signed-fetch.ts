import { concatBytes, createHasher, formatContentDigest, requestFromUrl, SigilError, toBytes } from '@sigil/core'
import { resolveSigner, type SignerOptions } from './options.js'
import { signView } from './sign-request.js'
import { type VerifyResponseOptions, verifyResponse } from './verify-response.js'

/** A request body that can be read more than once: every attempt re-signs and re-sends it. */
export type BodyFactory = () => ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>

/** Options of {@link createSignedFetch}. */
export type SignedFetchOptions = SignerOptions & {
  /**
   * The fetch to wrap (jose's `customFetch`). Default: global `fetch`. Redirects are not followed
   * unless `init.redirect` says so: the 3xx comes back to the caller, who signs a new request.
   */
  fetch?: (request: Request) => Promise<Response>
  /**
   * On a `CLOCK_SKEW` rejection, learn the offset from the response's `Date`, re-sign and retry
   * once. Default true.
   */
  clockSkewRetry?: boolean
  /**
   * Buffer one-shot `ReadableStream` bodies in memory to digest them. Off by default: pass a
   * `Blob` (e.g. `fs.openAsBlob`) or a body factory to stream in constant memory instead.
   */
  bufferStreams?: boolean
  /**
   * Require responses signed by the server (SPEC §5) and check them, body digest included, before
   * anything else sees them; a missing or wrong signature rejects with `ResponseVerificationError`.
   * Default false.
   */
  verifyResponses?: boolean | VerifyResponseOptions
  /** Look at (or replace) each response, after `verifyResponses` has checked it. */
  onResponse?: (response: Response, request: Request) => Promise<Response> | Response
}

type Prepared = { bytes?: Uint8Array; blob?: Blob; factory?: BodyFactory }

function isAsyncIterable(x: unknown): x is AsyncIterable<Uint8Array> {
  return typeof x === 'object' && x !== null && Symbol.asyncIterator in x
}

async function prepareBody(
  body: unknown,
  bufferStreams: boolean,
  method: string,
): Promise<{ prepared: Prepared | null; contentType?: string }> {
  if (body === undefined || body === null) return { prepared: null }
  if (typeof body === 'string' || body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
    return {
      prepared: { bytes: toBytes(body as string | ArrayBuffer | ArrayBufferView) },
      ...(typeof body === 'string' ? { contentType: 'text/plain;charset=UTF-8' } : {}),
    }
  }
  if (typeof body === 'function') return { prepared: { factory: body as BodyFactory } }
  if (body instanceof Blob) return { prepared: { blob: body }, ...(body.type ? { contentType: body.type } : {}) }
  if (body instanceof URLSearchParams || body instanceof FormData) {
    // Let the platform serialize (multipart boundary included), then sign exactly those bytes.
    const r = new Request('http://serialize.invalid/', { method: method === 'GET' ? 'POST' : method, body })
    return { prepared: { bytes: new Uint8Array(await r.arrayBuffer()) }, contentType: r.headers.get('content-type') as string }
  }
  if (body instanceof ReadableStream || isAsyncIterable(body)) {
    if (!bufferStreams) {
      throw new SigilError(
        'CONFIGURATION_INVALID',
        'a one-shot stream body cannot be digested before it is sent: pass a Blob (fs.openAsBlob), a body factory () => stream, or bufferStreams: true',
      )
    }
    const parts: Uint8Array[] = []
    for await (const c of body as AsyncIterable<Uint8Array>) parts.push(c)
    return { prepared: { bytes: concatBytes(parts) } }
  }
  throw new SigilError('CONFIGURATION_INVALID', 'unsupported request body type')
}

async function digestPrepared(p: Prepared, alg: 'sha-256' | 'sha-512'): Promise<string> {
  const h = createHasher(alg)
  if (p.bytes) h.update(p.bytes)
  else {
    const stream = p.blob ? p.blob.stream() : (p.factory as BodyFactory)()
    for await (const chunk of stream as AsyncIterable<Uint8Array>) h.update(chunk)
  }
  return formatContentDigest(alg, h.digest())
}

function sendable(p: Prepared): BodyInit {
  if (p.bytes) return p.bytes as Uint8Array<ArrayBuffer>
  if (p.blob) return p.blob
  const src = (p.factory as BodyFactory)()
  if (src instanceof ReadableStream) return src
  const it = (src as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
  return new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      const { done, value } = await it.next()
      if (done) ctrl.close()
      else ctrl.enqueue(value)
    },
    async cancel() {
      await it.return?.()
    },
  })
}

async function problemCode(res: Response): Promise<string | undefined> {
  if (!(res.headers.get('content-type') ?? '').includes('json')) return undefined
  try {
    const body = (await res.clone().json()) as { code?: unknown }
    return typeof body.code === 'string' ? body.code : undefined
  } catch {
    return undefined
  }
}

/**
 * A `fetch` that signs every request (SPEC §1). Each attempt gets a fresh `created` and nonce;
 * a `CLOCK_SKEW` rejection corrects the clock from the server's `Date` and retries once. Bodies
 * given as `Blob` or as a factory are digested and sent as streams, in constant memory.
 *
 * @example
 * ```ts
 * import { createSignedFetch } from '@sigil/client'
 * const api = createSignedFetch({ token: process.env.SIGIL_TOKEN! })
 * const res = await api('https://api.example.com/v1/orders', { method: 'POST', body: JSON.stringify({ sku: 'A-1' }) })
 * ```
 */
export function createSignedFetch(options: SignedFetchOptions): typeof fetch {
  const signer = resolveSigner(options)
  // Resolve the global fetch per call, so mocks installed later (msw) are honoured.
  const doFetch = options.fetch ?? ((req: Request) => globalThis.fetch(req))
  const retrySkew = options.clockSkewRetry ?? true
  const signedFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const base = input instanceof Request ? input : new Request(input, { ...init, body: undefined, method: init?.method ?? 'GET' })
    const method = init?.method ?? base.method
    const rawBody =
      init && 'body' in init ? init.body : input instanceof Request && input.body ? await input.clone().arrayBuffer() : undefined
    const { prepared, contentType } = await prepareBody(rawBody, options.bufferStreams ?? false, method)
    const headers = new Headers(input instanceof Request ? input.headers : undefined)
    if (init?.headers) for (const [k, v] of new Headers(init.headers)) headers.set(k, v)
    if (contentType && !headers.has('content-type')) headers.set('content-type', contentType)
    if (prepared) headers.set('content-digest', await digestPrepared(prepared, signer.digestAlgorithm))

    const attempt = async (): Promise<{ res: Response; req: Request }> => {
      const h = new Headers(headers)
      const signed = await signView(requestFromUrl(method, base.url, h), prepared !== null, signer)
      h.set('signature-input', signed.signatureInput)
      h.set('signature', signed.signature)
      const req = new Request(base.url, {
        ...init,
        // A signed request is bound to its authority and path: following a redirect would send
        // the signature where it cannot verify (and, for streamed bodies, makes undici keep a
        // replay copy of every byte). Only an explicit init.redirect changes that.
        redirect: init?.redirect ?? 'manual',
        method,
        headers: h,
        body: prepared ? sendable(prepared) : null,
        ...(prepared && !prepared.bytes ? { duplex: 'half' } : {}),
        ...(input instanceof Request ? { signal: init?.signal ?? input.signal } : {}),
      } as RequestInit)
      return { res: await doFetch(req), req }
    }

    let { res, req } = await attempt()
    if (retrySkew && res.status === 401 && (await problemCode(res)) === 'CLOCK_SKEW') {
      const date = Date.parse(res.headers.get('date') ?? '')
      if (Number.isFinite(date)) {
        signer.clockOffsetMs = date - signer.now()
        await res.body?.cancel()
        ;({ res, req } = await attempt())
      }
    }
    if (options.verifyResponses) {
      res = await verifyResponse(res, req, options, options.verifyResponses === true ? {} : options.verifyResponses)
    }
    return options.onResponse ? options.onResponse(res, req) : res
  }
  return signedFetch as typeof fetch
}

import { concatBytes, contentDigest, normalizeAuthority, type RequestMessage, SigilError, splitTarget, toBytes } from '@sigil/core'
import type { Dispatcher } from 'undici'
import { resolveSigner, type SignerOptions } from './options.js'
import { signViewSync } from './sign-request.js'

/** Options of {@link createSigningInterceptor}. */
export type SigningInterceptorOptions = SignerOptions & {
  /**
   * Buffer stream bodies (fetch hands every body to the dispatcher as a stream) to digest them.
   * Off by default; without it a stream body fails with a clear error.
   */
  bufferStreams?: boolean
  /** Upper bound on a buffered body. Default 16 MiB. */
  maxBufferBytes?: number
}

type Headers = Record<string, string>

function normalizeHeaders(h: Dispatcher.DispatchOptions['headers']): Headers {
  const out: Headers = {}
  const add = (k: string, v: unknown) => {
    if (v === undefined || v === null) return
    const key = k.toLowerCase()
    const val = Array.isArray(v) ? v.map(String).join(', ') : String(v)
    out[key] = key in out ? `${out[key]}, ${val}` : val
  }
  if (!h) return out
  if (Array.isArray(h)) {
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

/**
 * An undici interceptor that signs every request dispatched through it (SPEC §1). Compose it
 * onto an `Agent` or `Pool`; put a retry interceptor before it so each retry is re-signed.
 *
 * @example
 * ```ts
 * import { Agent, request } from 'undici'
 * import { createSigningInterceptor } from '@sigil/client/undici'
 * const dispatcher = new Agent().compose(createSigningInterceptor({ token: process.env.SIGIL_TOKEN! }))
 * await request('https://api.example.com/v1/orders', { dispatcher })
 * ```
 */
export function createSigningInterceptor(options: SigningInterceptorOptions): Dispatcher.DispatcherComposeInterceptor {
  const signer = resolveSigner(options)
  const maxBuffer = options.maxBufferBytes ?? 16 * 1024 * 1024
  return (dispatch) => (opts, handler) => {
    const send = (bytes: Uint8Array | null): boolean => {
      const headers = normalizeHeaders(opts.headers)
      delete headers.signature
      delete headers['signature-input']
      if (bytes) headers['content-digest'] = contentDigest(bytes, signer.digestAlgorithm)
      const origin = new URL(String(opts.origin))
      const scheme = origin.protocol.slice(0, -1)
      const { path, query } = splitTarget(opts.path)
      const view: RequestMessage = {
        method: opts.method,
        scheme,
        authority: normalizeAuthority(headers.host ?? origin.host, scheme),
        path,
        query,
        headers: { get: (n) => headers[n] ?? null },
      }
      const signed = signViewSync(view, bytes !== null, signer)
      headers['signature-input'] = signed.signatureInput
      headers.signature = signed.signature
      return dispatch({ ...opts, headers, ...(bytes ? { body: bytes } : {}) }, handler)
    }
    const body = opts.body as unknown
    try {
      if (body === undefined || body === null) return send(null)
      if (typeof body === 'string' || body instanceof Uint8Array) return send(toBytes(body))
    } catch (e) {
      fail(handler, e as Error)
      return true
    }
    if (!options.bufferStreams) {
      fail(
        handler,
        new SigilError('CONFIGURATION_INVALID', 'stream request bodies must be buffered to be digested: set bufferStreams: true'),
      )
      return true
    }
    ;(async () => {
      const parts: Uint8Array[] = []
      let total = 0
      for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
        const b = toBytes(chunk)
        total += b.byteLength
        if (total > maxBuffer) throw new SigilError('CONFIGURATION_INVALID', `request body exceeds maxBufferBytes (${maxBuffer})`)
        parts.push(b)
      }
      send(concatBytes(parts, total))
    })().catch((e: Error) => fail(handler, e))
    return true
  }
}

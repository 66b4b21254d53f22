import { ConfigurationError, contentDigest } from '@sigil/core'
import { requestFromUrl, toBytes } from '@sigil/core/internal'
import axios, {
  type AxiosAdapter,
  AxiosError,
  AxiosHeaders,
  type AxiosInstance,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios'
import { collect, serializeForm } from './buffer-body.js'
import { notEncrypting } from './check-options.js'
import { type ResolvedSigner, resolveSignerWith, SIGNER_SHAPE, type SignerOptions } from './options.js'
import { nextHop, REQUEST_BODY_HEADERS, type RedirectPolicy } from './redirect.js'
import { signView } from './sign-request.js'

/** Options of {@link sigilAxios}: the signer's, and what to do with redirects. */
export type SigilAxiosOptions = SignerOptions & {
  /**
   * Redirects (axios follows them unless `maxRedirects: 0`) are followed here, re-signed for every
   * hop on the original origin; other origins only with `crossOrigin: true` (unsigned) or `'sign'`.
   * A redirect that is not followed comes back as axios would return it (an error for a 3xx under
   * the default `validateStatus`). `maxRedirects` is axios's own option (default 21).
   */
  redirects?: Omit<RedirectPolicy, 'maxRedirects'>
}

/** What `adapter` may be set to in an axios config (axios does not export this type). */
type AdapterSpec = InternalAxiosRequestConfig['adapter']

const SIGNING = Symbol.for('sigil.axios.signingAdapter')
type Marked = AxiosAdapter & { [SIGNING]?: true }

/**
 * Sign every request an axios instance sends (SPEC §1), on any adapter (Node's `http`, `fetch`,
 * `xhr`). Signing happens in an adapter that wraps the one axios picked, after `transformRequest`:
 * it signs the bytes, `Content-Type` (multipart boundary included) and URL (`params` serialized by
 * axios, your `paramsSerializer` honoured, then normalized by the WHATWG URL parser as the fetch
 * adapter does, so `'` goes as `%27` on every adapter) that go on the wire, and hands the adapter
 * exactly those.
 * Bodies axios would stream (FormData, `Blob`, Node and Web streams) are read into memory first to
 * be digested, bounded by axios's `maxBodyLength`. Each attempt — a retry through axios-retry or an
 * interceptor, a redirect — is signed afresh. Returns the same instance.
 *
 * @example
 * ```ts
 * import axios from 'axios'
 * import { sigilAxios } from '@sigil/client/axios'
 * const api = sigilAxios(axios.create({ baseURL: 'https://api.example.com' }), { token: process.env.SIGIL_TOKEN! })
 * await api.post('/v1/orders', { sku: 'A-1' })
 * ```
 */
export function sigilAxios<T extends AxiosInstance>(instance: T, options: SigilAxiosOptions): T {
  const signer = resolveSignerWith(options, { ...SIGNER_SHAPE, redirects: null, encryptBody: notEncrypting('the axios interceptor') })
  // A request interceptor only puts the signing adapter in front of the adapter this request
  // would use (a per-request `adapter: 'fetch'` included); nothing is signed here: transformRequest
  // has not run yet, so neither the body nor its Content-Type are known.
  instance.interceptors.request.use((config) => {
    if (!(config.adapter as Marked | undefined)?.[SIGNING]) {
      config.adapter = signingAdapter(instance, config.adapter ?? instance.defaults.adapter, signer, options)
    }
    return config
  })
  return instance
}

function signingAdapter(instance: AxiosInstance, spec: AdapterSpec, signer: ResolvedSigner, options: SigilAxiosOptions): AxiosAdapter {
  const adapter: Marked = async (config) => {
    const inner = axios.getAdapter(spec, config)
    const headers = new AxiosHeaders(config.headers)
    let body = await bodyOf(config, headers)
    // One URL for every adapter: axios's serialization of params, then fetch's URL parser (which the
    // fetch adapter applies anyway, and whose result Node's http adapter sends unchanged).
    const target = new URL(instance.getUri(config))
    target.hash = ''
    let url = target.href
    let method = config.method ?? 'get'
    const origin = target.origin
    const follow = config.maxRedirects !== 0
    const maxRedirects = config.maxRedirects ?? 21
    for (let hops = 0; ; hops++) {
      // A copy per hop: the adapters write into the headers they get (Content-Length, User-Agent).
      const h = new AxiosHeaders(headers)
      h.delete('signature')
      h.delete('signature-input')
      h.delete('content-digest')
      if (body) h.set('content-digest', contentDigest(body, signer.digestAlgorithm))
      if (new URL(url).origin === origin || options.redirects?.crossOrigin === 'sign') {
        const signed = await signView(requestFromUrl(method.toUpperCase(), url, webHeaders(h)), body !== undefined, signer)
        h.set('signature-input', signed.signatureInput)
        h.set('signature', signed.signature)
      }
      const hop: InternalAxiosRequestConfig = {
        ...config,
        url,
        baseURL: undefined,
        params: undefined,
        method,
        headers: h,
        data: body ? arrayBufferOf(body) : undefined,
        // Followed (and re-signed) here, or not at all.
        maxRedirects: 0,
        fetchOptions: { ...(config.fetchOptions as object | undefined), redirect: 'manual' },
        adapter: spec,
      }
      let res: AxiosResponse
      let failure: unknown
      try {
        res = await inner(hop)
      } catch (e) {
        if (!(e instanceof AxiosError) || !e.response || !follow) throw e
        res = e.response
        failure = e
      }
      const next = follow ? nextHop(res as unknown as Response, url, method.toUpperCase()) : undefined
      if (!next || (new URL(next.url).origin !== origin && !options.redirects?.crossOrigin)) {
        if (failure) throw failure
        return res
      }
      if (hops >= maxRedirects) {
        throw new AxiosError('Maximum number of redirects exceeded', 'ERR_FR_TOO_MANY_REDIRECTS', config, res.request, res)
      }
      ;(res.data as { destroy?: () => void } | undefined)?.destroy?.()
      if (!next.keepBody) {
        body = undefined
        for (const n of REQUEST_BODY_HEADERS) headers.delete(n)
      }
      url = next.url
      method = next.method === method.toUpperCase() ? method : next.method.toLowerCase()
    }
  }
  adapter[SIGNING] = true
  return adapter
}

/** The headers as the signer reads them (what the adapters send: `false`/`null` are left out). */
function webHeaders(h: AxiosHeaders): Headers {
  const out = new Headers()
  for (const [k, v] of Object.entries(h.toJSON(true))) if (v !== undefined && v !== null && (v as unknown) !== false) out.set(k, String(v))
  return out
}

function arrayBufferOf(b: Uint8Array): ArrayBuffer {
  // Node's http adapter takes an ArrayBuffer or a Buffer, not a plain Uint8Array; fetch takes both.
  // A copy unless the view is its whole buffer (a small Buffer is a window on an 8 KiB pool).
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b.buffer as ArrayBuffer
  const copy = new Uint8Array(b.byteLength)
  copy.set(b)
  return copy.buffer
}

/**
 * The body as the adapter will send it, after transformRequest: its bytes, with the Content-Type
 * that names them set on `headers` (a multipart boundary, a Blob's type). `undefined`: no body.
 */
async function bodyOf(config: InternalAxiosRequestConfig, headers: AxiosHeaders): Promise<Uint8Array | undefined> {
  const data: unknown = config.data
  if (data === undefined || data === null) return undefined
  const limit = config.maxBodyLength !== undefined && config.maxBodyLength > -1 ? config.maxBodyLength : Number.POSITIVE_INFINITY
  let bytes: Uint8Array
  if (typeof data === 'string' || data instanceof ArrayBuffer || ArrayBuffer.isView(data)) bytes = toBytes(data as string)
  else if (data instanceof URLSearchParams) {
    bytes = toBytes(data.toString())
    if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded;charset=utf-8')
  } else if (typeof FormData !== 'undefined' && data instanceof FormData) {
    const form = await serializeForm(data)
    bytes = form.bytes
    headers.set('content-type', form.contentType)
  } else if (typeof Blob !== 'undefined' && data instanceof Blob) {
    if (data.size > limit) throw tooLarge(config)
    bytes = new Uint8Array(await data.arrayBuffer())
    // As Node's http adapter does: a Blob's own type wins.
    headers.set('content-type', data.type || 'application/octet-stream')
  } else if (
    typeof (data as { getHeaders?: unknown }).getHeaders === 'function' &&
    typeof (data as { pipe?: unknown }).pipe === 'function'
  ) {
    // The form-data package (axios's FormData on Node): its boundary is in getHeaders().
    const type = (data as { getHeaders(): Record<string, string> }).getHeaders()['content-type']
    bytes = await collect(data, limit, () => tooLarge(config))
    if (type) headers.set('content-type', type)
  } else if (isStream(data)) {
    bytes = await collect(data, limit, () => tooLarge(config))
  } else {
    throw new ConfigurationError('sigilAxios: unsupported request data after transformRequest (a string, bytes, FormData, Blob or stream)')
  }
  if (bytes.byteLength > limit) throw tooLarge(config)
  return bytes
}

function isStream(x: unknown): boolean {
  return (
    typeof x === 'object' &&
    x !== null &&
    (Symbol.asyncIterator in x ||
      typeof (x as { pipe?: unknown }).pipe === 'function' ||
      typeof (x as ReadableStream).getReader === 'function')
  )
}

const tooLarge = (config: InternalAxiosRequestConfig) =>
  new AxiosError('Request body larger than maxBodyLength limit', AxiosError.ERR_BAD_REQUEST, config)

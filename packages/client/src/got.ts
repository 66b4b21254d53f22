import { ConfigurationError, contentDigest } from '@sigil/core'
import { requestFromUrl, toBytes } from '@sigil/core/internal'
import { collect } from './buffer-body.js'
import { bool, notEncrypting } from './check-options.js'
import { resolveSignerWith, SIGNER_SHAPE, type SignerOptions } from './options.js'
import type { RedirectPolicy } from './redirect.js'
import { signView } from './sign-request.js'

/** Options of {@link sigilGot}. */
export type SigilGotOptions = SignerOptions & {
  /**
   * Bodies got would stream (FormData, a `Readable`, a generator) are read into memory to be
   * digested, up to `maxBufferBytes`. `false` refuses them with a `ConfigurationError` instead.
   * Default true.
   */
  bufferStreams?: boolean
  /** Largest body read into memory, in bytes. Default 16 MiB. */
  maxBufferBytes?: number
  /**
   * got follows redirects itself (its `followRedirect`, `maxRedirects`). Each same-origin hop is
   * signed afresh; a hop to another origin is sent without `Signature`/`Signature-Input` unless
   * `crossOrigin: 'sign'`.
   */
  redirects?: Pick<RedirectPolicy, 'crossOrigin'>
}

/** The slice of got's `Options` the hook reads and writes (got's own types stay out of ours). */
export interface GotOptionsLike {
  method: string
  url?: URL | string | undefined
  headers: Record<string, string | string[] | undefined>
  body?: unknown
  context: Record<string, unknown>
}

/** What `got.extend()` takes: a `beforeRequest` hook. */
export interface SigilGotExtension {
  hooks: { beforeRequest: Array<(options: GotOptionsLike) => Promise<void>> }
}

const DEFAULT_MAX_BUFFER = 16 * 1024 * 1024
/** Where the hook keeps the origin first addressed, in got's per-request `context` (it survives redirects and retries). */
const ORIGIN_KEY = 'sigilOrigin'

/**
 * Sign every request a got instance sends (SPEC §1): a `beforeRequest` hook, which got runs after
 * it has serialized `json`, `form` and `FormData` (boundary in `Content-Type`) and merged
 * `searchParams` into the URL, and again before every retry and every redirect hop — so each
 * attempt carries a fresh signature over what is sent. Streamed bodies are buffered (see
 * `bufferStreams`). Extend last, so hooks that change headers run before it.
 *
 * @example
 * ```ts
 * import got from 'got'
 * import { sigilGot } from '@sigil/client/got'
 * const api = got.extend({ prefixUrl: 'https://api.example.com' }, sigilGot({ token: process.env.SIGIL_TOKEN! }))
 * await api.post('v1/orders', { json: { sku: 'A-1' } })
 * ```
 */
export function sigilGot(options: SigilGotOptions): SigilGotExtension {
  const signer = resolveSignerWith(options, {
    ...SIGNER_SHAPE,
    bufferStreams: bool,
    maxBufferBytes: null,
    redirects: null,
    encryptBody: notEncrypting('the got hooks'),
  })
  const buffer = options.bufferStreams ?? true
  const max = options.maxBufferBytes ?? DEFAULT_MAX_BUFFER
  const hook = async (o: GotOptionsLike): Promise<void> => {
    const h = o.headers
    delete h.signature
    delete h['signature-input']
    delete h['content-digest']
    const url = new URL(String(o.url))
    url.hash = ''
    const body = await bytesOf(o, buffer, max)
    if (body) h['content-digest'] = contentDigest(body, signer.digestAlgorithm)
    const origin = (o.context[ORIGIN_KEY] as string | undefined) ?? url.origin
    o.context[ORIGIN_KEY] = origin
    // got itself clears only authorization and cookie on a redirect to another origin.
    if (url.origin !== origin && options.redirects?.crossOrigin !== 'sign') return
    const view = new Headers()
    for (const [k, v] of Object.entries(h)) if (v !== undefined) view.set(k, Array.isArray(v) ? v.join(', ') : String(v))
    const signed = await signView(requestFromUrl(o.method.toUpperCase(), url.href, view), body !== undefined, signer)
    h['signature-input'] = signed.signatureInput
    h.signature = signed.signature
  }
  return { hooks: { beforeRequest: [hook] } }
}

/** The body as bytes (replacing a streamed one on the options, so retries and redirects resend it). */
async function bytesOf(o: GotOptionsLike, buffer: boolean, max: number): Promise<Uint8Array | undefined> {
  const body = o.body
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string' || body instanceof Uint8Array) return toBytes(body)
  if (ArrayBuffer.isView(body)) return toBytes(body)
  if (!buffer) {
    throw new ConfigurationError(
      'sigilGot: a streamed body (FormData, Readable, generator) cannot be digested before it is sent: pass a string or Buffer, or leave bufferStreams on',
    )
  }
  const tooLarge = () => new ConfigurationError(`sigilGot: request body larger than maxBufferBytes (${max})`)
  const bytes = await collect(body, max, tooLarge)
  // A Buffer: what got sends as is, and can resend on a retry or a 307.
  o.body = (globalThis as { Buffer?: { from(b: Uint8Array): Uint8Array } }).Buffer?.from(bytes) ?? bytes
  if (o.headers['transfer-encoding'] === undefined) o.headers['content-length'] = String(bytes.byteLength)
  return bytes
}

import { ConfigurationError, DEFAULT_COMPONENTS, signMessage } from '@sigil/core'
import {
  encodeQueryValue,
  PRESIGNED_DEFAULT_LIFETIME_S,
  PRESIGNED_DIGEST_PARAM,
  PRESIGNED_INPUT_PARAM,
  PRESIGNED_MAX_BYTES_PARAM,
  PRESIGNED_MAX_LIFETIME_S,
  PRESIGNED_ONCE_PARAM,
  PRESIGNED_SIGNATURE_PARAM,
  PRESIGNED_TAG,
  requestFromUrl,
  splitPresignedQuery,
} from '@sigil/core/internal'
import { bool, checkOptions, fn, int, renamed, type Shape, str } from './check-options.js'
import type { Credentials } from './options.js'
import { resolveSigner } from './options.js'

/** Options of {@link presignUrl}. */
export type PresignUrlOptions = Credentials & {
  /**
   * How long the link works, in milliseconds, counted in whole seconds (the wire's unit). Default
   * 900 000 (15 minutes); 1000 to 604 800 000 (7 days).
   */
  expiresInMs?: number
  /** Method the link is for. Default `GET` (a GET link also answers `HEAD`). Any letter case. */
  method?: string
  /** Upload links: the body may carry at most this many bytes (bound into the signed query). */
  maxBytes?: number
  /** Upload links: the body must match this `Content-Digest` value (e.g. from `contentDigest(bytes)`). */
  contentDigest?: string
  /** The link works once: the server records its nonce. Default false (usable until it expires). */
  singleUse?: boolean
  /** Clock in milliseconds. Default `Date.now`. */
  now?: () => number
}

const SHAPE: Shape = {
  token: null,
  keyId: null,
  secret: null,
  expiresInMs: int(1000, PRESIGNED_MAX_LIFETIME_S * 1000),
  expiresIn: renamed('expiresInMs', 'milliseconds'),
  method: str({ pattern: /^[A-Za-z]{1,16}$/ }),
  maxBytes: int(0, Number.MAX_SAFE_INTEGER),
  contentDigest: str({ min: 1, max: 512 }),
  singleUse: bool,
  now: fn,
}

/**
 * A presigned URL (SPEC §7): a link to one resource, for a limited time, that a browser, curl or
 * an `<img>` tag can use without a key. The link is a bearer credential until it expires: hand it
 * only to whoever may use it, keep it out of logs, and serve pages that show it with
 * `Referrer-Policy: no-referrer`.
 *
 * @example
 * ```ts
 * const link = await presignUrl('https://files.example.com/v1/reports/7.pdf', {
 *   token: process.env.SIGIL_TOKEN!, expiresInMs: 3_600_000,
 * })
 * ```
 */
export async function presignUrl(url: string | URL, options: PresignUrlOptions): Promise<string> {
  checkOptions('presignUrl options', options, SHAPE, true)
  const o = options
  const signer = resolveSigner('token' in options ? { token: options.token } : { keyId: options.keyId, secret: options.secret })
  const target = new URL(url)
  if (target.protocol !== 'https:' && target.protocol !== 'http:') throw new ConfigurationError('presignUrl needs an http(s) URL')
  if (target.username || target.password) throw new ConfigurationError('presignUrl refuses URLs with user info')
  target.hash = ''
  // The raw query as core's request view reads it (href keeps a bare '?', URL.search drops it).
  if (splitPresignedQuery(requestFromUrl('GET', target, new Headers()).query) !== null)
    throw new ConfigurationError('URL is already presigned')
  // The bound parameters are ordinary query parameters, so @query covers them.
  const bound: string[] = []
  if (o.maxBytes !== undefined) bound.push(`${PRESIGNED_MAX_BYTES_PARAM}=${o.maxBytes}`)
  if (o.contentDigest !== undefined) bound.push(`${PRESIGNED_DIGEST_PARAM}=${encodeQueryValue(o.contentDigest)}`)
  if (o.singleUse) bound.push(`${PRESIGNED_ONCE_PARAM}=1`)
  let href = target.href
  if (bound.length) href = appendQuery(href, bound.join('&'))
  // A GET link also answers HEAD; a HEAD link is signed as GET for the same reason.
  const upper = (o.method ?? 'GET').toUpperCase()
  const method = upper === 'HEAD' ? 'GET' : upper
  const view = requestFromUrl(method, href, new Headers())
  const now = (o.now as (() => number) | undefined) ?? Date.now
  const created = Math.floor(now() / 1000)
  const signed = await signMessage(view, {
    keyId: signer.keyId,
    secret: signer.secret,
    components: DEFAULT_COMPONENTS.bodyless,
    created,
    expiresInMs: o.expiresInMs ?? PRESIGNED_DEFAULT_LIFETIME_S * 1000,
    tag: PRESIGNED_TAG,
  })
  return appendQuery(
    href,
    `${PRESIGNED_INPUT_PARAM}=${encodeQueryValue(signed.signatureInput)}&${PRESIGNED_SIGNATURE_PARAM}=${encodeQueryValue(signed.signature)}`,
  )
}

// The verifier takes the covered query as the raw text before `&sigil-input=` (or `?` alone), so
// the separator is always added, except after a bare `?`: `?a=1&` stays `?a=1&` when covered.
function appendQuery(href: string, params: string): string {
  const q = href.indexOf('?')
  if (q < 0) return `${href}?${params}`
  return q === href.length - 1 ? `${href}${params}` : `${href}&${params}`
}

import {
  type Component,
  DEFAULT_COMPONENTS,
  type RequestMessage,
  type SignedHeaders,
  type SignMessageOptions,
  signMessage,
} from '@sigil/core'
import { ECE_CODING, requestFromUrl, signMessageSync } from '@sigil/core/internal'
import { contentDigestOf } from './digest.js'
import { ACCEPT_ENCRYPTION, refuseCodedBody } from './encrypt-body.js'
import { type ResolvedSigner, resolveSignerWith, SIGNER_SHAPE, type SignerOptions } from './options.js'

/** Covered components for a request: the profile's defaults, then the caller's extras. */
export function componentsFor(hasBody: boolean, hasContentType: boolean, extra: readonly Component[]): Component[] {
  const base = hasBody
    ? hasContentType
      ? DEFAULT_COMPONENTS.withBody
      : DEFAULT_COMPONENTS.withBody.filter((c) => c.name !== 'content-type')
    : DEFAULT_COMPONENTS.bodyless
  return extra.length ? [...base, ...extra.filter((e) => !base.some((b) => b.id === e.id))] : [...base]
}

const WITH_BODY_UNTYPED: readonly Component[] = Object.freeze(DEFAULT_COMPONENTS.withBody.filter((c) => c.name !== 'content-type'))

/**
 * {@link componentsFor} without a new array per request: with no extra components, one of three
 * frozen lists, which core compiles once (the base's line heads, the inner list's text).
 */
function coveredComponents(hasBody: boolean, hasContentType: boolean, extra: readonly Component[]): readonly Component[] {
  if (extra.length !== 0) return componentsFor(hasBody, hasContentType, extra)
  return hasBody ? (hasContentType ? DEFAULT_COMPONENTS.withBody : WITH_BODY_UNTYPED) : DEFAULT_COMPONENTS.bodyless
}

/** The extra components of a request: the caller's, plus the encryption headers under `encryptBody`. */
function extraOf(s: ResolvedSigner, hasBody: boolean): readonly Component[] {
  const e = s.encrypted
  return e ? (hasBody ? e.withBody : e.bodyless) : s.extra
}

/** Seconds since the epoch on the signer's (possibly corrected) clock. */
export function createdNow(s: ResolvedSigner, offsetMs = s.clockOffsetMs): number {
  return Math.floor((s.now() + offsetMs) / 1000)
}

function signOptions(s: ResolvedSigner, components: readonly Component[], offsetMs: number): SignMessageOptions {
  // Built without spreads: one object per request.
  const o: SignMessageOptions = {
    keyId: s.keyId,
    secret: s.secret,
    components,
    created: createdNow(s, offsetMs),
    tag: s.tag,
    label: s.label,
  }
  if (s.expiresInMs !== undefined) o.expiresInMs = s.expiresInMs
  if (s.params) o.extraParams = s.params
  return o
}

/**
 * Sign a message view whose `Content-Digest` (if any) is already in its headers. Fresh `created`
 * and nonce on every call: a signature is never reused.
 */
export function signView(view: RequestMessage, hasBody: boolean, s: ResolvedSigner, offsetMs = s.clockOffsetMs): Promise<SignedHeaders> {
  return signMessage(
    view,
    signOptions(s, coveredComponents(hasBody, view.headers.get('content-type') !== null, extraOf(s, hasBody)), offsetMs),
  )
}

/** Synchronous {@link signView} (node:crypto HMAC), for dispatcher interceptors. */
export function signViewSync(view: RequestMessage, hasBody: boolean, s: ResolvedSigner): SignedHeaders {
  return signMessageSync(
    view,
    signOptions(s, coveredComponents(hasBody, view.headers.get('content-type') !== null, extraOf(s, hasBody)), s.clockOffsetMs),
  )
}

/**
 * Sign a `Request`: returns a new `Request` with `Content-Digest`, `Signature-Input` and
 * `Signature`. The caller's request and its body are left untouched (the body is read from a
 * clone). The copy has `redirect: 'manual'` (unless the original said `'error'`): a 3xx comes back
 * instead of being followed with the signature attached.
 *
 * @example
 * ```ts
 * import { signRequest } from '@sigil/client'
 * const signed = await signRequest(new Request('https://api.example.com/v1/orders', { method: 'POST', body: '{}' }), {
 *   token: process.env.SIGIL_TOKEN!,
 * })
 * await fetch(signed)
 * ```
 */
export async function signRequest(request: Request, options: SignerOptions): Promise<Request> {
  const s = resolveSignerWith(options, SIGNER_SHAPE)
  const headers = new Headers(request.headers)
  headers.delete('signature')
  headers.delete('signature-input')
  let body: Uint8Array | null = null
  if (s.encryptBody) headers.set(ACCEPT_ENCRYPTION, ECE_CODING)
  if (request.body !== null) {
    // A Request's body is one-shot: read a clone once, digest those bytes, resend them.
    body = new Uint8Array(await request.clone().arrayBuffer())
    if (s.encryptBody) {
      refuseCodedBody(headers)
      // SPEC §8: the digest covers the encrypted bytes as sent (RFC 9530, after content coding).
      body = await s.encryptBody.encryptBodyBytes(body, s)
      headers.set('content-encoding', ECE_CODING)
    }
    headers.set('content-digest', await contentDigestOf(body, s.digestAlgorithm))
  }
  const view = requestFromUrl(request.method, request.url, headers)
  const signed = await signView(view, body !== null, s)
  headers.set('signature-input', signed.signatureInput)
  headers.set('signature', signed.signature)
  return new Request(request.url, {
    method: request.method,
    headers,
    body: body as Uint8Array<ArrayBuffer> | null,
    // fetch would follow a redirect with these headers attached, to any origin: the signed copy
    // never follows ('manual'; 'error' is kept). Follow with createSignedFetch, which re-signs.
    redirect: request.redirect === 'follow' ? 'manual' : request.redirect,
    signal: request.signal,
    credentials: request.credentials,
    cache: request.cache,
    integrity: request.integrity,
    keepalive: request.keepalive,
    mode: request.mode,
    referrer: request.referrer,
    referrerPolicy: request.referrerPolicy,
  })
}

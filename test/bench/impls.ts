// Everything the micro benchmark runs, behind one shape: `sign()` makes a signed request for the
// fixture, `verify()` checks one. The floor, Sigil and the peers all sign/verify the same
// `POST https://api.example.com/v1/orders?b=2&a=1` with `content-type: application/json`.
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { createRequire } from 'node:module'
import { signRequest } from '@sigil/client'
import { contentDigest, type HeaderSource, requestFromUrl } from '@sigil/core'
import { createMemoryNonceStore, createVerifier, verify as verifyWeb } from '@sigil/server'
import { incomingFromNode } from '@sigil/server/node'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import { createVerifier as createHmsVerifier, createSigner, httpbis } from 'http-message-signatures'
import { Webhook } from 'standardwebhooks'
import { resolveSigner } from '../../packages/client/src/options.js'
import { signView } from '../../packages/client/src/sign-request.js'
import { CONTENT_TYPE, HOST, KEY_ID, METHOD, PATH, QUERY, SECRET, SECRET_BUFFER, URL_STRING } from './fixtures.js'

const require = createRequire(import.meta.url)

/** One implementation under test. `T` is whatever `sign` hands to `verify` (headers, usually). */
export interface Impl<T = unknown> {
  name: string
  /** What the signature covers, for the table. */
  covers: string
  /** Sync implementations are timed without awaiting. */
  async: boolean
  /** Entries that are not peers of the full request (floor, informational adapters). */
  kind: 'floor' | 'sigil' | 'peer' | 'info'
  sign(): T | Promise<T>
  verify(signed: T): void | Promise<void>
  /** Called between rounds (e.g. to empty a nonce store). */
  reset?(): void
}

type Headers_ = Record<string, string>

function headerSource(h: Headers_): HeaderSource {
  return { get: (n) => h[n] ?? null }
}

function fail(what: string): never {
  throw new Error(`${what} did not verify`)
}

/** Sigil's signature base length for this request (the floor HMACs a string this long). */
export async function sigilBaseLength(body: Buffer): Promise<number> {
  const headers: Headers_ = { 'content-type': CONTENT_TYPE }
  if (body.length) headers['content-digest'] = contentDigest(body)
  const view = requestFromUrl(METHOD, URL_STRING, headerSource(headers))
  return (await signView(view, body.length > 0, resolveSigner({ keyId: KEY_ID, secret: SECRET }))).base.length
}

/**
 * The floor: what any HMAC scheme over this request must at least do on Node. HMAC-SHA256 of a
 * string as long as Sigil's signature base, SHA-256 of the body, constant-time compare.
 */
export function floor(body: Buffer, baseLength: number): Impl<Buffer> {
  const str = 'x'.repeat(baseLength)
  const mac = () => {
    createHash('sha256').update(body).digest()
    return createHmac('sha256', SECRET_BUFFER).update(str).digest()
  }
  return {
    name: 'floor (node:crypto)',
    covers: 'HMAC of an equally long string + SHA-256 of the body + timingSafeEqual',
    async: false,
    kind: 'floor',
    sign: mac,
    verify(m) {
      if (!timingSafeEqual(mac(), m)) fail('floor')
    },
  }
}

/** Sigil at the level a framework adapter calls it: sign a request view, verify an incoming request. */
export function sigil(body: Buffer, maxEntries = 1_000_000): Impl<Headers_> & { store: ReturnType<typeof createMemoryNonceStore> } {
  const signer = resolveSigner({ keyId: KEY_ID, secret: SECRET })
  const nonceStore = createMemoryNonceStore({ maxEntries })
  const verifier = createVerifier({ keys: { [KEY_ID]: SECRET }, nonceStore, maxBodyBytes: 2 * 1024 * 1024 })
  const chunks = body.length ? [body] : []
  const bodyIterable = () => (chunks.length ? (chunks as unknown as AsyncIterable<Uint8Array>) : null)
  return {
    name: 'Sigil',
    covers: 'method, authority, path, query, content-type, Content-Digest; created/expires/nonce (replay store)',
    async: true,
    kind: 'sigil',
    async sign() {
      const headers: Headers_ = { host: HOST, 'content-type': CONTENT_TYPE }
      if (body.length) {
        headers['content-digest'] = contentDigest(body)
        headers['content-length'] = String(body.length)
      }
      const view = requestFromUrl(METHOD, URL_STRING, headerSource(headers))
      const signed = await signView(view, body.length > 0, signer)
      headers['signature-input'] = signed.signatureInput
      headers.signature = signed.signature
      return headers
    },
    async verify(headers) {
      const req = { method: METHOD, url: PATH + QUERY, headers, rawHeaders: [], socket: { encrypted: true } } as unknown as IncomingMessage
      await verifier.verifyIncoming(incomingFromNode(req, verifier, { body: bodyIterable }))
    },
    reset: () => nonceStore.clear(),
    store: nonceStore,
  }
}

/** Sigil through the Web API end to end: signRequest(Request) → verify(Request). */
export function sigilFetch(body: Buffer): Impl<Request> {
  const options = { keyId: KEY_ID, secret: SECRET }
  const nonceStore = createMemoryNonceStore()
  const verifyOptions = { keys: { [KEY_ID]: SECRET }, nonceStore }
  return {
    name: 'Sigil (Fetch Request API)',
    covers: 'as Sigil, through signRequest(Request) and verify(Request) (Request construction, clone, stream read)',
    async: true,
    kind: 'info',
    sign: () =>
      signRequest(
        new Request(URL_STRING, {
          method: METHOD,
          headers: { 'content-type': CONTENT_TYPE },
          body: body.length ? new Uint8Array(body) : null,
        }),
        options,
      ),
    async verify(request) {
      await verifyWeb(request, verifyOptions)
    },
    reset: () => nonceStore.clear(),
  }
}

interface Aws4 {
  sign(o: Record<string, unknown>, creds: { accessKeyId: string; secretAccessKey: string }): { headers: Headers_ }
}

const AWS_CREDS = { accessKeyId: 'AKIDBENCHMARK0000000', secretAccessKey: SECRET_BUFFER.toString('base64') }

function equalStrings(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** aws4 (SigV4): the verifier re-signs with the received X-Amz-Date and compares. */
export function aws4(body: Buffer): Impl<Headers_> {
  const lib = require('aws4') as Aws4
  const opts = (headers: Headers_) => ({
    host: HOST,
    method: METHOD,
    path: PATH + QUERY,
    service: 'execute-api',
    region: 'us-east-1',
    headers,
    body: body.length ? body : undefined,
  })
  return {
    name: 'aws4',
    covers: 'method, host, path, query, content-type, x-amz-date, body hash (SigV4); no replay store',
    async: false,
    kind: 'peer',
    sign: () => lib.sign(opts({ 'content-type': CONTENT_TYPE }), AWS_CREDS).headers,
    verify(h) {
      const date = h['X-Amz-Date'] as string
      const skew = Math.abs(
        Date.now() - Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 11)}:${date.slice(11, 13)}:${date.slice(13)}`),
      )
      if (!(skew < 300_000)) fail('aws4 (date)')
      const again = lib.sign(opts({ 'content-type': CONTENT_TYPE, 'X-Amz-Date': date }), AWS_CREDS).headers
      if (!equalStrings(again.Authorization as string, h.Authorization as string)) fail('aws4')
    },
  }
}

function bytesOf(d: string | ArrayBuffer | ArrayBufferView | undefined): string | Uint8Array | undefined {
  if (d === undefined || typeof d === 'string' || d instanceof Uint8Array) return d
  return ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d)
}

/** A node:crypto hash for @smithy/signature-v4 (its Checksum interface). */
class NodeSha256 {
  private h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>
  private readonly secret: string | Uint8Array | undefined
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.secret = bytesOf(secret)
    this.h = this.secret ? createHmac('sha256', this.secret) : createHash('sha256')
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(bytesOf(data) as string | Uint8Array)
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.h.digest())
  }
  reset(): void {
    this.h = this.secret ? createHmac('sha256', this.secret) : createHash('sha256')
  }
}

/** @smithy/signature-v4 (the AWS SDK v3 signer) with a node:crypto hash. */
export function smithy(body: Buffer): Impl<Headers_> {
  const signer = new SignatureV4({
    credentials: AWS_CREDS,
    region: 'us-east-1',
    service: 'execute-api',
    sha256: NodeSha256,
    uriEscapePath: true,
  })
  const request = (headers: Headers_) =>
    new HttpRequest({
      method: METHOD,
      protocol: 'https:',
      hostname: HOST,
      path: PATH,
      query: { b: '2', a: '1' },
      headers,
      ...(body.length ? { body } : {}),
    })
  return {
    name: '@smithy/signature-v4',
    covers: 'method, host, path, query, content-type, x-amz-date, body hash (SigV4); no replay store',
    async: true,
    kind: 'peer',
    async sign() {
      const signed = await signer.sign(request({ host: HOST, 'content-type': CONTENT_TYPE }))
      return signed.headers as Headers_
    },
    async verify(h) {
      const date = h['x-amz-date'] as string
      const at = new Date(
        Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 11)}:${date.slice(11, 13)}:${date.slice(13)}`),
      )
      if (!(Math.abs(Date.now() - at.getTime()) < 300_000)) fail('smithy (date)')
      const again = await signer.sign(request({ host: HOST, 'content-type': CONTENT_TYPE }), { signingDate: at })
      if (!equalStrings(again.headers.authorization as string, h.authorization as string)) fail('smithy')
    },
  }
}

const HMS_FIELDS = ['@method', '@authority', '@path', '@query', 'content-type', 'content-digest']

/** http-message-signatures (RFC 9421, hmac-sha256) plus the Content-Digest check it leaves to the caller. */
export function httpMessageSignatures(body: Buffer): Impl<Headers_> {
  const key = createSigner(SECRET_BUFFER, 'hmac-sha256', KEY_ID)
  const verifierKey = { id: KEY_ID, algs: ['hmac-sha256'], verify: createHmsVerifier(SECRET_BUFFER, 'hmac-sha256') }
  const fields = body.length ? HMS_FIELDS : HMS_FIELDS.slice(0, 4)
  return {
    name: 'http-message-signatures',
    covers: 'same components and parameters as Sigil (RFC 9421) + Content-Digest check; no replay store',
    async: true,
    kind: 'peer',
    async sign() {
      const headers: Headers_ = { 'content-type': CONTENT_TYPE }
      if (body.length) headers['content-digest'] = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`
      const created = new Date()
      const signed = await httpbis.signMessage(
        {
          key,
          fields,
          params: ['created', 'expires', 'nonce', 'keyid', 'alg', 'tag'],
          paramValues: {
            created,
            expires: new Date(created.getTime() + 300_000),
            nonce: randomBytes(16).toString('base64url'),
            tag: 'sigil',
          },
        },
        { method: METHOD, url: URL_STRING, headers },
      )
      return signed.headers as Headers_
    },
    async verify(h) {
      const ok = await httpbis.verifyMessage(
        { keyLookup: async () => verifierKey, requiredFields: fields, tolerance: 300 },
        { method: METHOD, url: URL_STRING, headers: h },
      )
      if (!ok) fail('http-message-signatures')
      if (body.length) {
        const want = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`
        if (!equalStrings(want, h['content-digest'] as string)) fail('http-message-signatures (digest)')
      }
    },
  }
}

interface HawkLib {
  client: { header(uri: string, method: string, o: Record<string, unknown>): { header: string } }
  server: { authenticate(req: unknown, creds: (id: string) => unknown, o: Record<string, unknown>): Promise<unknown> }
}

/** @hapi/hawk with payload validation (default: no nonce check). */
export function hawk(body: Buffer): Impl<string> {
  const lib = require('@hapi/hawk') as HawkLib
  const credentials = { id: KEY_ID, key: SECRET_BUFFER.toString('base64'), algorithm: 'sha256' }
  const payload = body.toString()
  return {
    name: '@hapi/hawk',
    covers: 'method, host, port, path, query, ts, nonce (no store by default), payload hash incl. content-type',
    async: true,
    kind: 'peer',
    sign: () => lib.client.header(URL_STRING, METHOD, { credentials, payload, contentType: CONTENT_TYPE }).header,
    async verify(authorization) {
      await lib.server.authenticate(
        { method: METHOD, url: PATH + QUERY, headers: { host: HOST, authorization, 'content-type': CONTENT_TYPE } },
        () => credentials,
        { payload, port: 443 },
      )
    },
  }
}

/** standardwebhooks: body + id + timestamp only (no method/URL). */
export function standardWebhooks(body: Buffer): Impl<Headers_> {
  const wh = new Webhook(SECRET_BUFFER.toString('base64'))
  const payload = body.toString()
  return {
    name: 'standardwebhooks',
    covers: 'body, message id, timestamp (no method, URL or headers)',
    async: false,
    kind: 'peer',
    sign() {
      const id = `msg_${randomUUID()}`
      const ts = new Date()
      return {
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
        'webhook-signature': wh.sign(id, ts, payload),
      }
    },
    verify(h) {
      wh.verify(payload, h)
    },
  }
}

interface StripeWebhooks {
  generateTestHeaderString(o: { payload: string; secret: string }): string
  signature: { verifyHeader(payload: string, header: string, secret: string, tolerance?: number): boolean }
}

/** Stripe's webhook signature: HMAC of `timestamp.body` (the check constructEvent runs, without JSON.parse). */
export function stripe(body: Buffer): Impl<string> {
  const Stripe = require('stripe') as new (k: string) => { webhooks: StripeWebhooks }
  const webhooks = new Stripe('sk_test_bench').webhooks
  const secret = `whsec_${SECRET_BUFFER.toString('base64')}`
  const payload = body.toString()
  return {
    name: 'stripe webhooks',
    covers: 'body + timestamp only (no method, URL or headers)',
    async: false,
    kind: 'peer',
    sign: () => webhooks.generateTestHeaderString({ payload, secret }),
    verify(header) {
      if (!webhooks.signature.verifyHeader(payload, header, secret, 300)) fail('stripe')
    },
  }
}

/** All entries for one body size, floor first. */
export function allImpls(body: Buffer, baseLength: number): Impl[] {
  return [
    floor(body, baseLength),
    sigil(body),
    sigilFetch(body),
    hawk(body),
    aws4(body),
    smithy(body),
    httpMessageSignatures(body),
    standardWebhooks(body),
    // Stripe refuses an empty payload (webhooks always carry one).
    ...(body.length ? [stripe(body)] : []),
  ] as Impl[]
}

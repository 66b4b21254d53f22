// Everything the micro benchmark runs, behind one shape: `sign()` makes a signed request for the
// fixture and returns the headers it adds, `verify()` checks one request as it arrives off the
// wire. The floor, Sigil and the peers all sign/verify the same
// `POST https://api.example.com/v1/orders?b=2&a=1` with `content-type: application/json`.
//
// Fresh per call, as an application pays it (issue 13): every sign builds its own headers object
// and URL string; every verify gets a `Wire` request made by `toWire` — a new node-shaped object
// whose header names and values are new flat strings (as node's HTTP parser hands them out), with
// `rawHeaders` filled, and the body as one Buffer chunk. Nothing a library returned from `sign()`
// reaches `verify()` by identity.
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { createRequire } from 'node:module'
import { signRequest } from '@sigil/client'
import { contentDigest } from '@sigil/core'
import { type HeaderSource, requestFromUrl } from '@sigil/core/internal'
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

/** A request as a node server receives it: what every entry's `verify` reads. */
export interface Wire {
  method: string
  /** The raw request target, path and query. */
  url: string
  /** Lower-case names, single values, as `IncomingMessage.headers`. */
  headers: Record<string, string>
  /** Name/value pairs as sent, as `IncomingMessage.rawHeaders`. */
  rawHeaders: string[]
  /** The body as one chunk (the same bytes every time; no entry caches by body identity). */
  body: Buffer
  /**
   * The same chunk as a body source for Sigil's node adapter, made with the wire (off the clock):
   * as node's parser hands the adapter a stream, the benchmark hands it the chunk in memory, so
   * the closure that holds it is not counted as Sigil's (under tsx, naming a closure costs a
   * defineProperty that the built package does not pay).
   */
  chunks: () => Buffer[] | null
}

// A new flat copy of a string: what node's parser allocates for every header it reads.
const fresh = (s: string): string => Buffer.from(s, 'latin1').toString('latin1')

/** The request the network delivers for `added` headers (what a signer set besides the fixture's). */
export function toWire(added: Record<string, string>, body: Buffer): Wire {
  const headers: Record<string, string> = {}
  const rawHeaders: string[] = []
  const put = (name: string, value: string) => {
    const n = fresh(name.toLowerCase())
    const v = fresh(value)
    headers[n] = v
    rawHeaders.push(n, v)
  }
  put('host', HOST)
  put('content-type', CONTENT_TYPE)
  if (body.length) put('content-length', String(body.length))
  for (const k in added) {
    const lower = k.toLowerCase()
    if (lower !== 'host' && lower !== 'content-type' && lower !== 'content-length') put(k, added[k] as string)
  }
  const chunks = body.length ? [body] : null
  return { method: METHOD, url: fresh(PATH + QUERY), headers, rawHeaders, body, chunks: () => chunks }
}

/** One implementation under test: `sign` returns the headers it adds, `verify` checks a wire request. */
export interface Impl<T = Record<string, string>> {
  name: string
  /** What the signature covers, for the table. */
  covers: string
  /** Sync implementations are timed without awaiting. */
  async: boolean
  /** Entries that are not peers of the full request (floor, informational adapters). */
  kind: 'floor' | 'sigil' | 'peer' | 'info'
  sign(): T | Promise<T>
  verify(request: Wire): void | Promise<void>
  /**
   * What the server runtime does before the application sees a request, off the clock: the Fetch
   * entry's runtime builds the `Request` (an application that calls `verify(Request)` already
   * holds one).
   */
  receive?(request: Wire): Wire
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
 * The floor: what any HMAC scheme over this request must at least do on Node, per call. Sign:
 * SHA-256 of the body, a canonical string built from the request's fields and a timestamp,
 * HMAC-SHA256, base64. Verify: the ±300 s window, SHA-256 of the body, the canonical string built
 * again from the received request, HMAC-SHA256, timingSafeEqual. No replay store, no parsing of a
 * structured header: the least an HMAC request-signing scheme can do.
 */
export function floor(body: Buffer): Impl {
  const canonical = (method: string, host: string, target: string, type: string, digest: string, ts: string) =>
    `${method}\n${host}\n${target}\n${type}\n${digest}\n${ts}\n${KEY_ID}`
  return {
    name: 'floor (node:crypto)',
    covers: 'canonical string built per call + HMAC-SHA256 + SHA-256 of the body + timingSafeEqual + ±300 s check',
    async: false,
    kind: 'floor',
    sign() {
      const digest = createHash('sha256').update(body).digest('base64')
      const ts = String(Math.floor(Date.now() / 1000))
      const mac = createHmac('sha256', SECRET_BUFFER)
        .update(canonical(METHOD, HOST, `${PATH}${QUERY}`, CONTENT_TYPE, digest, ts))
        .digest('base64')
      return { 'x-floor-ts': ts, 'x-floor-mac': mac }
    },
    verify(w) {
      const h = w.headers
      const ts = h['x-floor-ts'] as string
      if (!(Math.abs(Date.now() / 1000 - Number(ts)) <= 300)) fail('floor (time)')
      const digest = createHash('sha256').update(w.body).digest('base64')
      const mac = createHmac('sha256', SECRET_BUFFER)
        .update(canonical(w.method, h.host as string, w.url, h['content-type'] as string, digest, ts))
        .digest()
      if (!timingSafeEqual(mac, Buffer.from(h['x-floor-mac'] as string, 'base64'))) fail('floor')
    },
  }
}

/** The query of a request target with its `&`-separated pairs sorted (bytewise), per call. */
function sortedQuery(target: string): { path: string; query: string } {
  const q = target.indexOf('?')
  if (q < 0) return { path: target, query: '' }
  return {
    path: target.slice(0, q),
    query: target
      .slice(q + 1)
      .split('&')
      .sort()
      .join('&'),
  }
}

/**
 * The minimal floor (issue 32): only what any body-covering HMAC scheme must do, as the issue's
 * independent harness defines it —
 * `canonical = METHOD "\n" PATH "?" SORTED-QUERY "\n" TIMESTAMP "\n" hex(sha256(body))`,
 * `sign = hex(HMAC-SHA256(secret, canonical))`, verify = recompute + timingSafeEqual +
 * |now - timestamp| <= 300 s. No host, no content type, no header object beyond the two values it
 * must send, no key id, no replay store. The path and query are split and the query sorted per
 * call on both sides (the verifier reads them off the wire's request target).
 */
export function minimalFloor(body: Buffer): Impl {
  const canonical = (method: string, target: string, ts: string, bodyHex: string) => {
    const { path, query } = sortedQuery(target)
    return `${method}\n${path}?${query}\n${ts}\n${bodyHex}`
  }
  const target = `${PATH}${QUERY}`
  return {
    name: 'minimal floor (node:crypto)',
    covers: 'METHOD, path, sorted query, timestamp, hex SHA-256 of the body; hex HMAC-SHA256 + timingSafeEqual + ±300 s (issue 32)',
    async: false,
    kind: 'floor',
    sign() {
      const ts = String(Math.floor(Date.now() / 1000))
      const bodyHex = createHash('sha256').update(body).digest('hex')
      const mac = createHmac('sha256', SECRET_BUFFER)
        .update(canonical(METHOD, target, ts, bodyHex))
        .digest('hex')
      return { 'x-min-ts': ts, 'x-min-mac': mac }
    },
    verify(w) {
      const h = w.headers
      const ts = h['x-min-ts'] as string
      if (!(Math.abs(Date.now() / 1000 - Number(ts)) <= 300)) fail('minimal floor (time)')
      const bodyHex = createHash('sha256').update(w.body).digest('hex')
      const mac = Buffer.from(
        createHmac('sha256', SECRET_BUFFER)
          .update(canonical(w.method, w.url, ts, bodyHex))
          .digest('hex'),
      )
      const got = Buffer.from(h['x-min-mac'] as string)
      if (got.length !== mac.length || !timingSafeEqual(mac, got)) fail('minimal floor')
    },
  }
}

// A fresh URL string per call, as an application builds it (same content: every entry signs the
// same endpoint).
const freshUrl = () => fresh(URL_STRING)

/** The connection a node request arrives on (TLS: `@scheme` is https). */
const TLS_SOCKET = { encrypted: true }

/** Sigil at the level a framework adapter calls it: sign a request view, verify a node request. */
export function sigil(body: Buffer, maxEntries = 1_000_000): Impl & { store: ReturnType<typeof createMemoryNonceStore> } {
  const signer = resolveSigner({ keyId: KEY_ID, secret: SECRET })
  // One key signs every request: its share is the whole cap (the default share is an eighth of it).
  const nonceStore = createMemoryNonceStore({ maxEntries, maxEntriesPerKey: maxEntries })
  const verifier = createVerifier({ keys: { [KEY_ID]: SECRET }, nonceStore, maxBodyBytes: 2 * 1024 * 1024 })
  return {
    name: 'Sigil',
    covers: 'method, authority, path, query, content-type, Content-Digest; created/expires/nonce (replay store)',
    async: true,
    kind: 'sigil',
    async sign() {
      const headers: Headers_ = { host: HOST, 'content-type': CONTENT_TYPE }
      if (body.length) headers['content-digest'] = contentDigest(body)
      const view = requestFromUrl(METHOD, freshUrl(), headerSource(headers))
      const signed = await signView(view, body.length > 0, signer)
      headers['signature-input'] = signed.signatureInput
      headers.signature = signed.signature
      return headers
    },
    async verify(w) {
      const req = { method: w.method, url: w.url, headers: w.headers, rawHeaders: w.rawHeaders, socket: TLS_SOCKET }
      await verifier.verifyIncoming(incomingFromNode(req as unknown as IncomingMessage, verifier, { body: w.chunks }))
    },
    reset: () => nonceStore.clear(),
    store: nonceStore,
  }
}

/**
 * Sigil through the Web API: signRequest(Request) → verify(Request). Sign builds its Request (the
 * client does); verify gets the Request the server runtime built (`receive`, off the clock), as an
 * application calling verify(Request) holds it. On Node, verify pays for `request.clone()`, which
 * leaves the app's body readable: a tee of a web stream, most of this entry's time.
 */
export function sigilFetch(body: Buffer): Impl {
  const options = { keyId: KEY_ID, secret: SECRET }
  const nonceStore = createMemoryNonceStore()
  const verifier = createVerifier({ keys: { [KEY_ID]: SECRET }, nonceStore })
  const received = new WeakMap<Wire, Request>()
  const toRequest = (w: Wire) =>
    new Request(`https://${w.headers.host}${w.url}`, {
      method: w.method,
      headers: w.headers,
      body: w.body.length ? new Uint8Array(w.body) : null,
    })
  return {
    name: 'Sigil (Fetch Request API)',
    covers: 'as Sigil, through signRequest(Request) and verify(Request) given the Request (clone, stream read)',
    async: true,
    kind: 'info',
    async sign() {
      const signed = await signRequest(
        new Request(freshUrl(), {
          method: METHOD,
          headers: { 'content-type': CONTENT_TYPE },
          body: body.length ? new Uint8Array(body) : null,
        }),
        options,
      )
      return Object.fromEntries(signed.headers)
    },
    receive(w) {
      received.set(w, toRequest(w))
      return w
    },
    async verify(w) {
      await verifyWeb(received.get(w) ?? toRequest(w), verifier)
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
export function aws4(body: Buffer): Impl {
  const lib = require('aws4') as Aws4
  const opts = (host: string, path: string, headers: Headers_, payload: Buffer) => ({
    host,
    method: METHOD,
    path,
    service: 'execute-api',
    region: 'us-east-1',
    headers,
    body: payload.length ? payload : undefined,
  })
  return {
    name: 'aws4',
    covers: 'method, host, path, query, content-type, x-amz-date, body hash (SigV4); no replay store',
    async: false,
    kind: 'peer',
    sign: () => lib.sign(opts(HOST, `${PATH}${QUERY}`, { 'content-type': CONTENT_TYPE }, body), AWS_CREDS).headers,
    verify(w) {
      const h = w.headers
      const date = h['x-amz-date'] as string
      const skew = Math.abs(
        Date.now() - Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 11)}:${date.slice(11, 13)}:${date.slice(13)}`),
      )
      if (!(skew < 300_000)) fail('aws4 (date)')
      const again = lib.sign(
        opts(h.host as string, w.url, { 'content-type': h['content-type'] as string, 'X-Amz-Date': date }, w.body),
        AWS_CREDS,
      ).headers
      if (!equalStrings(again.Authorization as string, h.authorization as string)) fail('aws4')
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

function queryObject(q: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of q.split('&')) {
    const eq = pair.indexOf('=')
    out[decodeURIComponent(pair.slice(0, eq))] = decodeURIComponent(pair.slice(eq + 1))
  }
  return out
}

/** @smithy/signature-v4 (the AWS SDK v3 signer) with a node:crypto hash. */
export function smithy(body: Buffer): Impl {
  const signer = new SignatureV4({
    credentials: AWS_CREDS,
    region: 'us-east-1',
    service: 'execute-api',
    sha256: NodeSha256,
    uriEscapePath: true,
  })
  const request = (host: string, target: string, headers: Headers_, payload: Buffer) => {
    const q = target.indexOf('?')
    return new HttpRequest({
      method: METHOD,
      protocol: 'https:',
      hostname: host,
      path: q < 0 ? target : target.slice(0, q),
      query: q < 0 ? {} : queryObject(target.slice(q + 1)),
      headers,
      ...(payload.length ? { body: payload } : {}),
    })
  }
  return {
    name: '@smithy/signature-v4',
    covers: 'method, host, path, query, content-type, x-amz-date, body hash (SigV4); no replay store',
    async: true,
    kind: 'peer',
    async sign() {
      const signed = await signer.sign(request(HOST, `${PATH}${QUERY}`, { host: HOST, 'content-type': CONTENT_TYPE }, body))
      return signed.headers as Headers_
    },
    async verify(w) {
      const h = w.headers
      const date = h['x-amz-date'] as string
      const at = new Date(
        Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 11)}:${date.slice(11, 13)}:${date.slice(13)}`),
      )
      if (!(Math.abs(Date.now() - at.getTime()) < 300_000)) fail('smithy (date)')
      const again = await signer.sign(
        request(h.host as string, w.url, { host: h.host as string, 'content-type': h['content-type'] as string }, w.body),
        { signingDate: at },
      )
      if (!equalStrings(again.headers.authorization as string, h.authorization as string)) fail('smithy')
    },
  }
}

const HMS_FIELDS = ['@method', '@authority', '@path', '@query', 'content-type', 'content-digest']

/** http-message-signatures (RFC 9421, hmac-sha256) plus the Content-Digest check it leaves to the caller. */
export function httpMessageSignatures(body: Buffer): Impl {
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
        { method: METHOD, url: freshUrl(), headers },
      )
      return signed.headers as Headers_
    },
    async verify(w) {
      const h = w.headers
      const ok = await httpbis.verifyMessage(
        { keyLookup: async () => verifierKey, requiredFields: fields, tolerance: 300 },
        { method: w.method, url: `https://${h.host}${w.url}`, headers: h },
      )
      if (!ok) fail('http-message-signatures')
      if (w.body.length) {
        const want = `sha-256=:${createHash('sha256').update(w.body).digest('base64')}:`
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
export function hawk(body: Buffer): Impl {
  const lib = require('@hapi/hawk') as HawkLib
  const credentials = { id: KEY_ID, key: SECRET_BUFFER.toString('base64'), algorithm: 'sha256' }
  return {
    name: '@hapi/hawk',
    covers: 'method, host, port, path, query, ts, nonce (no store by default), payload hash incl. content-type',
    async: true,
    kind: 'peer',
    sign: () => ({
      authorization: lib.client.header(freshUrl(), METHOD, { credentials, payload: body, contentType: CONTENT_TYPE }).header,
    }),
    async verify(w) {
      await lib.server.authenticate({ method: w.method, url: w.url, headers: w.headers }, () => credentials, { payload: w.body, port: 443 })
    },
  }
}

/** standardwebhooks: body + id + timestamp only (no method/URL). */
export function standardWebhooks(body: Buffer): Impl {
  const wh = new Webhook(SECRET_BUFFER.toString('base64'))
  const payload = body.toString()
  return {
    name: 'standardwebhooks',
    covers: 'body, message id, timestamp (no method, URL or headers); string payload (its API)',
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
    verify(w) {
      wh.verify(w.body.toString(), w.headers)
    },
  }
}

interface StripeWebhooks {
  generateTestHeaderString(o: { payload: string; secret: string }): string
  signature: { verifyHeader(payload: string | Buffer, header: string, secret: string, tolerance?: number): boolean }
}

/** Stripe's webhook signature: HMAC of `timestamp.body` (the check constructEvent runs, without JSON.parse). */
export function stripe(body: Buffer): Impl {
  const Stripe = require('stripe') as new (k: string) => { webhooks: StripeWebhooks }
  const webhooks = new Stripe('sk_test_bench').webhooks
  const secret = `whsec_${SECRET_BUFFER.toString('base64')}`
  const payload = body.toString()
  return {
    name: 'stripe webhooks',
    covers: 'body + timestamp only (no method, URL or headers)',
    async: false,
    kind: 'peer',
    sign: () => ({ 'stripe-signature': webhooks.generateTestHeaderString({ payload, secret }) }),
    verify(w) {
      if (!webhooks.signature.verifyHeader(w.body, w.headers['stripe-signature'] as string, secret, 300)) fail('stripe')
    },
  }
}

/** All entries for one body size, the floor first and the minimal floor second. */
export function allImpls(body: Buffer): Impl[] {
  return [
    floor(body),
    minimalFloor(body),
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

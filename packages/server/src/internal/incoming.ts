import { type RequestMessage, SigilError, VerificationError } from '@sigil/core'
import type { HeaderSource } from '@sigil/core/internal'
import type { PresignedOptions } from './presigned.js'
import { recordUnbuilt, type VerificationTelemetry } from './telemetry.js'

/**
 * A request as an adapter hands it to the verifier: the message view (raw path and query,
 * resolved authority) and a way to read the body, called only once the MAC and replay checks
 * have passed.
 */
export interface IncomingRequest {
  message: RequestMessage
  /** True when the framing promises body bytes: a non-zero Content-Length. */
  hasBody: boolean
  /**
   * True when the framing does not settle whether bytes follow (Transfer-Encoding, HTTP/2 DATA
   * frames without Content-Length, a Web `Request` whose body is a stream): the verifier then
   * decides by the bytes (SPEC §2 step 7): any byte without a covered `content-digest` is
   * `DIGEST_MISSING`, zero bytes is no body.
   */
  mayHaveBody?: boolean
  /**
   * The replay check an outer verifier actually made for this very request (stacked middleware):
   * which pair it recorded, in which store, for how long. An inner verifier re-checks everything
   * else, and skips its own nonce check only when this record covers it (see {@link ReplayRecord}).
   */
  replayChecked?: ReplayRecord
  /** Declared Content-Length, when there is one. */
  contentLength?: number
  /**
   * The body as a stream of chunks, or chunks already in memory (read without awaiting each), or
   * a {@link PushBody}; null when there is none.
   */
  body: () => AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> | Iterable<Uint8Array> | PushBody | null
  /** Peer address, for usage records. */
  address?: string
  /**
   * Keep the body bytes on the result even when the verifier's `retainBody` is off: the adapter
   * hands them on (Fastify's parsers read them after the digest did).
   */
  retainBody?: boolean
}

/**
 * What a verifier's replay step recorded for one accepted request (SPEC §2 step 6, stacked
 * verifiers): the `(keyId, nonce)` pair, the nonce store instance it went into, and until when that
 * store keeps it. A verifier that recorded nothing (a multi-use presigned link, a signature without
 * a nonce, `explain()`) leaves no record, so a stacked verifier never relies on a check nobody made.
 */
export interface ReplayRecord {
  keyId: string
  nonce: string
  /** The nonce store instance the pair was recorded in. */
  store: object
  /** Until when the store keeps the pair, ms since the epoch by the verifier's clock (its TTL). */
  untilMs: number
}

/**
 * Whether `record` stands for the check a verifier would make itself: the same pair, recorded in
 * the same store instance, kept at least as long as this verifier would keep it. A single-use rule
 * is covered by the record's existence (the outer verifier refused the pair's reuse in that store);
 * anything less, and the inner verifier checks its own store.
 */
export function replayCovered(record: ReplayRecord | undefined, keyId: string, nonce: string, store: object, untilMs: number): boolean {
  return record !== undefined && record.keyId === keyId && record.nonce === nonce && record.store === store && record.untilMs >= untilMs
}

/** Where a body's chunks go: the verifier's digest, size limit and copy, or a probe. */
export interface BodyTaker {
  /** Take one chunk; throws to stop reading (the size limit). */
  take(chunk: Uint8Array | string): void
}

/**
 * A body that pushes its chunks (Node `data` events) instead of being pulled through an async
 * iterator: one promise per body instead of one per chunk.
 */
export interface PushBody extends AsyncIterable<Uint8Array> {
  /**
   * Hand every chunk to `sink.take` and resolve once the body has ended; return `undefined`
   * instead of a promise when the whole body was already there and has been taken synchronously.
   * When `take` throws (the size limit), stop reading, release the source as an abandoned async
   * iterator would, and reject (or throw) with that error; a stream error or an early close
   * rejects with `BODY_INCOMPLETE` (see {@link bodyIncomplete}). With `deadlineMs`, the read keeps
   * the deadline itself: past it, it stops reading and rejects with `BODY_TIMEOUT`.
   */
  feed(sink: BodyTaker, deadlineMs?: number): Promise<void> | undefined
}

/**
 * Body presence from the framing headers (SPEC §2 step 2): a non-zero Content-Length promises
 * bytes; Transfer-Encoding (possibly zero chunks) leaves it to the bytes. `definite` says whether
 * the absence of both means "no body" (HTTP/1.x) or nothing at all (HTTP/2, Web requests).
 */
export function declaredBody(
  contentLength: string | null,
  transferEncoding: string | null,
  definite = true,
): { hasBody: boolean; mayHaveBody: boolean; contentLength?: number } {
  if (transferEncoding !== null) return { hasBody: false, mayHaveBody: true }
  if (contentLength === null) return { hasBody: false, mayHaveBody: !definite }
  const n = Number(contentLength)
  if (!Number.isFinite(n) || n < 0) return { hasBody: true, mayHaveBody: true }
  return { hasBody: n > 0, mayHaveBody: n > 0 || !definite, contentLength: n }
}

/** {@link declaredBody} of a request's own headers: what every adapter's request view asks. */
export function framingOf(headers: HeaderSource, definite = true): ReturnType<typeof declaredBody> {
  return declaredBody(headers.get('content-length'), headers.get('transfer-encoding'), definite)
}

const FOUND = Symbol('found')
/** Stops a body at its first byte. */
const PROBE: BodyTaker = {
  take(chunk) {
    if (chunk.length > 0) throw FOUND
  },
}

/**
 * Whether a body source yields at least one byte. Reads only until the first non-empty chunk,
 * then releases the source as an abandoned iterator would; a source that ends empty was read to
 * its end (so adapters can hand the app an empty body again).
 */
export async function hasAnyByte(src: ReturnType<IncomingRequest['body']>): Promise<boolean> {
  if (src === null) return false
  if (typeof (src as PushBody).feed === 'function') {
    try {
      await (src as PushBody).feed(PROBE)
      return false
    } catch (e) {
      if (e === FOUND) return true
      throw e
    }
  }
  if (typeof (src as Iterable<Uint8Array>)[Symbol.iterator] === 'function') {
    for (const c of src as Iterable<Uint8Array>) if (c.byteLength > 0) return true
    return false
  }
  if (typeof (src as ReadableStream<Uint8Array>).getReader === 'function') {
    const reader = (src as ReadableStream<Uint8Array>).getReader()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return false
        if (value.byteLength > 0) return true
      }
    } finally {
      reader.cancel().catch(() => {})
    }
  }
  for await (const c of src as AsyncIterable<Uint8Array>) if (c.byteLength > 0) return true
  return false
}

/** Whether an answer is a promise (a thenable) rather than the value itself. */
export function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as Promise<T> | null)?.then === 'function'
}

/**
 * Build an adapter's request and verify it, turning a request that cannot be built (conflicting
 * Host lines, see `connectionHost`) into a rejection like any other.
 */
export function verifyBuilt(
  verifier: {
    verifyIncoming(input: IncomingRequest, context?: VerifyContext): Promise<Verified>
    config: { telemetry: VerificationTelemetry | undefined }
  },
  build: () => IncomingRequest,
  context?: VerifyContext,
  method?: string,
): Promise<Verified> {
  let input: IncomingRequest
  try {
    input = build()
  } catch (e) {
    recordUnbuilt(verifier.config, method, e, context?.route)
    return Promise.reject(e)
  }
  return verifier.verifyIncoming(input, context)
}

/** Per-request additions to the verifier's configuration (adapters pass route requirements). */
export interface VerifyContext {
  requiredScopes?: readonly string[]
  /** Accept a presigned URL on this route (SPEC §7), overriding the verifier's `presigned` option. */
  presigned?: PresignedOptions
  /** False: refuse test keys on this route (403 `TEST_KEY_REFUSED`), whatever the verifier's `testKeys`. */
  testKeys?: boolean
  /**
   * The route pattern this request matched (`/v1/orders/:id`), for the `telemetry` hook's
   * `http.route`. The Express, Fastify and Hono adapters fill it in from the framework when a hook
   * is set. Give a pattern, never the request's path: one label value per distinct string.
   */
  route?: string
  /** Encrypted bodies on this route (SPEC §8), overriding the verifier's `encryptedBodies`. */
  encryptedBodies?: 'required' | 'allowed'
}

/** What the application gets for an accepted request (SPEC §2 step 9). */
export interface Verified {
  keyId: string
  principal: string
  scopes: readonly string[]
  /** `created` of the signature, seconds since the epoch. */
  created: number
  expires?: number
  nonce?: string
  /** Label of the signature that was checked. */
  label: string
  /** True when the request was authorized by a presigned URL (SPEC §7), not signature headers. */
  presigned?: true
  /**
   * Body bytes as received, when the verifier read and retained them; with `encrypted`, the
   * plaintext of the `aes128gcm` body (SPEC §8).
   */
  body?: Uint8Array
  /** True when the body arrived `aes128gcm`-encrypted (SPEC §8) and `body` is its plaintext. */
  encrypted?: true
  metadata?: Record<string, unknown>
  /** True when the key is a test key (SPEC §4); absent for live keys. */
  test?: true
  /** Rate-limit state after this request, for `RateLimit` headers on success. */
  rateLimit?: { limit: number; remaining: number; resetMs: number; windowMs: number }
}

const PRODUCED_BY = Symbol.for('sigil.verifiedBy')
// Global symbols: a result made by one copy of this package (ESM and CJS) is read by the other.
const REPLAY_RECORD = Symbol.for('sigil.replayRecord')

/** Attach what the replay step recorded to a result (not enumerable: not part of what the app sees). */
export function attachReplayRecord<T extends Verified>(verified: T, record: ReplayRecord | undefined): T {
  if (record !== undefined) Object.defineProperty(verified, REPLAY_RECORD, { value: record, enumerable: false, configurable: true })
  return verified
}

/** Whether a result was accepted by some verifier (an outer `sigil()`), whichever it was. */
export function isVerified(verified: Verified | null | undefined): boolean {
  return verified != null && (verified as unknown as Record<symbol, unknown>)[PRODUCED_BY] !== undefined
}

/** Remember which verifier accepted a result, so stacked middleware can tell theirs from another's. */
export function markVerified<T extends Verified>(verified: T, verifier: object): T {
  Object.defineProperty(verified, PRODUCED_BY, { value: verifier, enumerable: false, configurable: true })
  return verified
}

/**
 * Whether a result already on the request (an outer `sigil()`) counts for `verifier`: only when
 * that very verifier produced it. Otherwise the inner middleware verifies again with its own keys,
 * scopes and profile, passing {@link IncomingRequest.replayChecked}: what the outer one recorded.
 */
export function verifiedBy(verified: Verified | null | undefined, verifier: object): boolean {
  return verified != null && (verified as unknown as Record<symbol, unknown>)[PRODUCED_BY] === verifier
}

/**
 * The replay check an earlier result stands for (see {@link IncomingRequest.replayChecked}): only
 * what its verifier recorded, never just the presence of a nonce on the result.
 */
export function replayCheckedBy(verified: Verified | null | undefined): ReplayRecord | undefined {
  if (!isVerified(verified)) return undefined
  return (verified as unknown as Record<symbol, ReplayRecord | undefined>)[REPLAY_RECORD]
}

/**
 * Read a body under a deadline (SPEC §2 step 7): past `ms` the request is 408 `BODY_TIMEOUT`; a
 * stream that fails while being read (the client closed the connection, an HTTP/2 reset) is
 * `BODY_INCOMPLETE`, recorded as what it is rather than as an internal error.
 */
export async function readBodyWithin<T>(ms: number, read: Promise<T> | (() => Promise<T>)): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(bodyTimeout(ms)), ms)
  })
  try {
    return await Promise.race([typeof read === 'function' ? read() : read, late])
  } catch (e) {
    throw bodyIncomplete(e)
  } finally {
    clearTimeout(timer)
  }
}

/** A body that did not arrive within `ms` (408). */
export function bodyTimeout(ms: number): VerificationError {
  return new VerificationError('BODY_TIMEOUT', `body did not arrive within ${ms} ms`)
}

/** A stream that failed while its body was read (the client went away): `BODY_INCOMPLETE`; a verdict stays as it is. */
export function bodyIncomplete(e: unknown): unknown {
  if (e instanceof SigilError) return e
  return new VerificationError('BODY_INCOMPLETE', 'the body ended early: the client closed the stream', { cause: e })
}

/**
 * After an `aes128gcm` body was decrypted (SPEC §8), the node request's headers describe the
 * plaintext the framework's parsers will read: no `Content-Encoding`, its `Content-Length`.
 */
export function describePlaintext(headers: Record<string, string | string[] | undefined>, verified: Verified): void {
  if (verified.encrypted !== true) return
  delete headers['content-encoding']
  delete headers['transfer-encoding']
  headers['content-length'] = String(verified.body?.byteLength ?? 0)
}

import type { RequestMessage } from '@sigil/core'
import type { PresignedOptions } from './presigned.js'

/**
 * A request as an adapter hands it to the verifier: the message view (raw path and query,
 * resolved authority) and a way to read the body, called only once the MAC and replay checks
 * have passed.
 */
export interface IncomingRequest {
  message: RequestMessage
  /** True when the request declares a body: non-zero Content-Length or any Transfer-Encoding. */
  hasBody: boolean
  /** Declared Content-Length, when there is one. */
  contentLength?: number
  /**
   * The body as a stream of chunks, or chunks already in memory (read without awaiting each), or
   * a {@link PushBody}; null when there is none.
   */
  body: () => AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> | Iterable<Uint8Array> | PushBody | null
  /** Peer address, for usage records. */
  address?: string
}

/**
 * A body that pushes its chunks (Node `data` events) instead of being pulled through an async
 * iterator: one promise per body instead of one per chunk.
 */
export interface PushBody extends AsyncIterable<Uint8Array> {
  /**
   * Call `take` with every chunk and resolve once the body has ended. When `take` throws (the
   * size limit), stop reading, release the source as an abandoned async iterator would, and
   * reject with that error; a stream error or an early close rejects as iterating would.
   */
  feed(take: (chunk: Uint8Array | string) => void): Promise<void>
}

/** Body presence from the framing headers (SPEC §2 step 2). */
export function declaredBody(contentLength: string | null, transferEncoding: string | null): { hasBody: boolean; contentLength?: number } {
  if (transferEncoding !== null) return { hasBody: true }
  if (contentLength === null) return { hasBody: false }
  const n = Number(contentLength)
  return Number.isFinite(n) && n >= 0 ? { hasBody: n > 0, contentLength: n } : { hasBody: true }
}

/** Per-request additions to the verifier's configuration (adapters pass route requirements). */
export interface VerifyContext {
  requiredScopes?: readonly string[]
  /** Accept a presigned URL on this route (SPEC §7), overriding the verifier's `presigned` option. */
  presigned?: PresignedOptions
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
  /** Body bytes as received, when the verifier read and retained them. */
  body?: Uint8Array
  metadata?: Record<string, unknown>
  /** Rate-limit state after this request, for `RateLimit` headers on success. */
  rateLimit?: { limit: number; remaining: number; resetSeconds: number; windowSeconds: number }
}

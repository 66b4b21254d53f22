import { ConfigurationError } from '@sigil/core'
import { concatBytes, toBytes } from '@sigil/core/internal'

/** A request body as the interceptor sends it: bytes it digested, or a Blob it streamed through the hash. */
export interface DispatchBody {
  bytes: Uint8Array | null
  /** Sent instead of `bytes` (undici writes Blobs itself): digested in a streaming pass. */
  blob?: Blob
  /** The `content-type` undici would have added for this body (FormData boundary, Blob type). */
  contentType?: string
}

const tagOf = (x: object) => (x as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag]
const isBlobLike = (x: object): x is Blob => x instanceof Blob || ((tagOf(x) === 'Blob' || tagOf(x) === 'File') && 'stream' in x)
const isFormDataLike = (x: object): x is FormData => x instanceof FormData || (tagOf(x) === 'FormData' && 'getAll' in x)
const isIterable = (x: object): x is Iterable<unknown> | AsyncIterable<unknown> => Symbol.asyncIterator in x || Symbol.iterator in x

/**
 * The bytes of a dispatch body when they are known without reading (strings, Buffers, typed arrays,
 * DataView, ArrayBuffer), `undefined` when they are not. Matches how undici itself sends these.
 */
export function knownBytes(body: unknown): Uint8Array | null | undefined {
  if (body === undefined || body === null) return null
  if (typeof body === 'string' || body instanceof Uint8Array) return toBytes(body)
  if (body instanceof ArrayBuffer) return new Uint8Array(body)
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
  return undefined
}

/**
 * Read any other body undici accepts into exactly the bytes that will be sent. FormData is
 * serialized as undici (and fetch) would, boundary in `content-type`; URLSearchParams as fetch
 * would (undici.request would iterate its pairs). Streams and iterables are buffered only with
 * `bufferStreams`, and must yield bytes or strings; anything else is refused, never sent as
 * something other than what was signed.
 */
export async function readBody(
  body: unknown,
  bufferStreams: boolean,
  maxBufferBytes: number,
  signal?: AbortSignal | null,
): Promise<DispatchBody> {
  if (typeof body === 'function') {
    throw new ConfigurationError('undici does not send function bodies; body factories are a createSignedFetch feature')
  }
  if (typeof body !== 'object' || body === null) throw new ConfigurationError('unsupported request body type')
  if (isBlobLike(body)) return { bytes: null, blob: body, ...(body.type ? { contentType: body.type } : {}) }
  if (isFormDataLike(body) || body instanceof URLSearchParams) {
    const r = new Response(body as FormData | URLSearchParams)
    return { bytes: new Uint8Array(await r.arrayBuffer()), contentType: r.headers.get('content-type') as string }
  }
  if (!isIterable(body)) throw new ConfigurationError('unsupported request body type')
  if (!bufferStreams) {
    throw new ConfigurationError('stream and iterable request bodies must be buffered to be digested: set bufferStreams: true')
  }
  const parts: Uint8Array[] = []
  let total = 0
  for await (const chunk of body as AsyncIterable<unknown>) {
    signal?.throwIfAborted()
    const b = typeof chunk === 'string' || chunk instanceof Uint8Array ? toBytes(chunk) : undefined
    if (b === undefined) throw new ConfigurationError('a body stream must yield bytes (Uint8Array) or strings')
    total += b.byteLength
    if (total > maxBufferBytes) throw new ConfigurationError(`request body exceeds maxBufferBytes (${maxBufferBytes})`)
    parts.push(b)
  }
  return { bytes: concatBytes(parts, total) }
}

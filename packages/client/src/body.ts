import { ConfigurationError } from '@sigil/core'
import { concatBytes, formatContentDigest, toBytes } from '@sigil/core/internal'
import { contentDigestOf, nodeHasher } from './digest.js'

/** A request body that can be read more than once: every attempt re-signs and re-sends it. */
export type BodyFactory = () => ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>

/** A body ready to be digested and (re)sent: bytes, a Blob, or a factory called once per pass. */
export type PreparedBody = { bytes?: Uint8Array; blob?: Blob; factory?: BodyFactory }

function isAsyncIterable(x: unknown): x is AsyncIterable<Uint8Array> {
  return typeof x === 'object' && x !== null && Symbol.asyncIterator in x
}

/** Bytes read from a Blob at a time while digesting. */
const BLOB_SLICE = 4 << 20

/**
 * A Blob's bytes in 4 MiB slices. `blob.stream()` can hand over a whole in-memory Blob as one
 * chunk after copying it (Node: 200 MB in one piece after ~0.5 s), which neither streams nor can
 * be aborted; reading slices keeps memory constant and gives an abort a chance between them.
 */
export async function* blobChunks(blob: Blob): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < blob.size; o += BLOB_SLICE) yield new Uint8Array(await blob.slice(o, o + BLOB_SLICE).arrayBuffer())
}

/** Reject with the signal's reason if it has fired (called before each pass and between chunks). */
function checkAbort(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted()
}

/** Large chunks are hashed in slices of this size, with a turn of the event loop between them. */
const SLICE = 1 << 20

// A macrotask, not a microtask: an abort scheduled by a timer or I/O callback can only fire then.
const nextTurn = (): Promise<void> => new Promise((r) => (typeof setImmediate === 'function' ? setImmediate(r) : setTimeout(r, 0)))

/**
 * Read a stream or async iterable chunk by chunk, checking the signal between chunks. With a
 * signal, large chunks are handed out in 1 MiB slices and the event loop gets a turn every 1 MiB,
 * so an abort fired by a timer lands within about one slice's hashing time.
 */
export async function* chunksOf(
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array> {
  checkAbort(signal)
  const it = (source as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]()
  let since = 0
  try {
    for (;;) {
      const { done, value } = await it.next()
      checkAbort(signal)
      if (done) return
      if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
        throw new ConfigurationError('a body stream must yield bytes (Uint8Array) or strings')
      }
      const bytes = toBytes(value)
      if (!signal) {
        yield bytes
        continue
      }
      for (let o = 0; o < bytes.byteLength; o += SLICE) {
        const slice = bytes.subarray(o, o + SLICE)
        yield slice
        // In-memory sources (a Blob) resolve chunk after chunk without a macrotask in between: a
        // timer's abort would wait for the whole body. Give it a turn every SLICE bytes.
        since += slice.byteLength
        if (since >= SLICE) {
          since = 0
          await nextTurn()
          checkAbort(signal)
        }
      }
    }
  } finally {
    // Stop the source (an aborted Blob read, a factory's file stream) without waiting on it.
    void Promise.resolve(it.return?.()).catch(() => {})
  }
}

/**
 * Turn a `fetch` body into something that can be digested and sent, possibly more than once (a
 * retry, a redirect). URLSearchParams and FormData are serialized by the platform so the signed
 * bytes (and the multipart boundary in `content-type`) are exactly the ones sent.
 */
export async function prepareBody(
  body: unknown,
  bufferStreams: boolean,
  signal: AbortSignal | undefined,
): Promise<{ prepared: PreparedBody | null; contentType?: string }> {
  checkAbort(signal)
  if (body === undefined || body === null) return { prepared: null }
  if (typeof body === 'string') return { prepared: { bytes: toBytes(body) }, contentType: 'text/plain;charset=UTF-8' }
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
    // Copied: the caller may reuse or transfer its buffer, and every attempt resends these bytes.
    return { prepared: { bytes: toBytes(body as ArrayBuffer | ArrayBufferView).slice() } }
  }
  if (typeof body === 'function') return { prepared: { factory: body as BodyFactory } }
  if (body instanceof Blob) return { prepared: { blob: body }, ...(body.type ? { contentType: body.type } : {}) }
  if (body instanceof URLSearchParams || body instanceof FormData) {
    const r = new Response(body)
    return { prepared: { bytes: new Uint8Array(await r.arrayBuffer()) }, contentType: r.headers.get('content-type') as string }
  }
  if (body instanceof ReadableStream || isAsyncIterable(body)) {
    if (!bufferStreams) {
      throw new ConfigurationError(
        'a one-shot stream body cannot be digested before it is sent: pass a Blob (fs.openAsBlob), a body factory () => stream, or bufferStreams: true',
      )
    }
    const parts: Uint8Array[] = []
    for await (const c of chunksOf(body as AsyncIterable<Uint8Array>, signal)) parts.push(c)
    return { prepared: { bytes: concatBytes(parts) } }
  }
  throw new ConfigurationError('unsupported request body type')
}

/**
 * Largest body factory digested where there is no incremental hash (off Node: browsers, workers).
 * WebCrypto only digests whole buffers, so the factory's output is read into memory once.
 */
export const MAX_WEB_DIGEST_BYTES = 64 * 1024 * 1024

/**
 * The `Content-Digest` of a prepared body. On Node, Blobs and factories are streamed through
 * node:crypto in constant memory. Elsewhere WebCrypto digests the whole bytes: a Blob's are read
 * with `arrayBuffer()` (the platform holds them already), a factory's are buffered up to
 * {@link MAX_WEB_DIGEST_BYTES} and a larger one is refused — keeping a JavaScript SHA-2 out of
 * every browser bundle.
 */
export async function digestPrepared(p: PreparedBody, alg: 'sha-256' | 'sha-512', signal: AbortSignal | undefined): Promise<string> {
  checkAbort(signal)
  if (p.bytes) return contentDigestOf(p.bytes, alg)
  const h = nodeHasher(alg)
  if (h) {
    const source = p.blob ? blobChunks(p.blob) : (p.factory as BodyFactory)()
    for await (const chunk of chunksOf(source, signal)) h.update(chunk)
    return formatContentDigest(alg, h.digest())
  }
  if (p.blob) {
    const bytes = new Uint8Array(await p.blob.arrayBuffer())
    checkAbort(signal)
    return contentDigestOf(bytes, alg)
  }
  const parts: Uint8Array[] = []
  let size = 0
  for await (const chunk of chunksOf((p.factory as BodyFactory)(), signal)) {
    size += chunk.byteLength
    if (size > MAX_WEB_DIGEST_BYTES) {
      throw new ConfigurationError(
        `a body factory larger than ${MAX_WEB_DIGEST_BYTES} bytes cannot be digested here: this runtime has no streaming hash (WebCrypto digests whole buffers). Pass a Blob or the bytes`,
      )
    }
    parts.push(chunk)
  }
  return contentDigestOf(concatBytes(parts), alg)
}

/** A fresh sendable body for one attempt (a factory is called again; the signal is checked first). */
export function sendable(p: PreparedBody, signal: AbortSignal | undefined): BodyInit {
  checkAbort(signal)
  if (p.bytes) return p.bytes as Uint8Array<ArrayBuffer>
  if (p.blob) return p.blob
  const it = chunksOf((p.factory as BodyFactory)(), signal)
  return new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      const { done, value } = await it.next()
      if (done) ctrl.close()
      else ctrl.enqueue(value)
    },
    async cancel() {
      await it.return(undefined)
    },
  })
}

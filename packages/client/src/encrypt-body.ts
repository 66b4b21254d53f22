import { ConfigurationError } from '@sigil/core'
import {
  createEceEncrypter,
  decryptStream,
  deriveEncryptionKey,
  ECE_CODING,
  ECE_RECORD_SIZE,
  encryptBytes,
  randomBytes,
} from '@sigil/core/internal'
import { blobChunks, chunksOf, type PreparedBody } from './body.js'
import type { ResolvedSigner } from './options.js'

/** The request header that asks for an encrypted response (SPEC §8); covered by the signature. */
export const ACCEPT_ENCRYPTION = 'sigil-accept-encoding'

/** Plaintext bytes per record Sigil sends: `rs` less the tag and the delimiter. */
const WINDOW = ECE_RECORD_SIZE - 17

/** The encryption key of the signer's key (SPEC §8), derived once per secret and key id. */
export function encryptionKey(s: ResolvedSigner): Promise<Uint8Array> {
  return deriveEncryptionKey(s.secret, s.keyId)
}

/** Re-chunk a stream into windows of exactly `WINDOW` bytes (the last one shorter). */
async function* windows(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(WINDOW)
  let fill = 0
  for await (const chunk of source) {
    let o = 0
    while (o < chunk.length) {
      const n = Math.min(WINDOW - fill, chunk.length - o)
      buf.set(chunk.subarray(o, o + n), fill)
      fill += n
      o += n
      if (fill === WINDOW) {
        yield buf
        buf = new Uint8Array(WINDOW)
        fill = 0
      }
    }
  }
  if (fill > 0) yield buf.subarray(0, fill)
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>))
}

/**
 * A streamed body encrypted the same on every pass (digest, send, a retry): one salt per request.
 * AES-GCM must never seal two different plaintexts under one salt (CEK and nonces repeat), so the
 * first pass records a SHA-256 per record of plaintext and every later pass stops, before sealing,
 * at a record whose plaintext differs (a factory that yields other bytes the second time).
 */
function encryptedFactory(source: () => AsyncIterable<Uint8Array>, key: Uint8Array, keyId: string): () => AsyncIterable<Uint8Array> {
  const salt = randomBytes(16)
  let prints: Uint8Array[] | undefined
  return async function* () {
    const first = prints === undefined
    const seen: Uint8Array[] = []
    const e = createEceEncrypter({ key, keyId, salt })
    let seq = 0
    for await (const w of windows(source())) {
      const print = await sha256(w)
      if (first) seen.push(print)
      else {
        const want = (prints as Uint8Array[])[seq]
        if (!want || want.length !== print.length || want.some((b, i) => b !== print[i])) {
          throw new ConfigurationError(
            'the body factory yielded other bytes on a later call: an encrypted body must be the same on every call',
          )
        }
      }
      seq++
      yield* await e.push(w)
    }
    if (!first && seq !== (prints as Uint8Array[]).length) {
      throw new ConfigurationError('the body factory yielded other bytes on a later call: an encrypted body must be the same on every call')
    }
    yield* await e.end()
    if (first) prints = seen
  }
}

/** The prepared body, encrypted (SPEC §8): bytes are sealed once; Blobs and factories stream. */
export async function encryptPrepared(p: PreparedBody, s: ResolvedSigner, signal: AbortSignal | undefined): Promise<PreparedBody> {
  const key = await encryptionKey(s)
  if (p.bytes) return { bytes: await encryptBytes(p.bytes, { key, keyId: s.keyId }) }
  const blob = p.blob
  const factory = p.factory
  const source = blob ? () => blobChunks(blob) : () => chunksOf((factory as NonNullable<typeof factory>)(), signal)
  return { factory: encryptedFactory(source, key, s.keyId) }
}

/** Encrypt bytes in memory for the signer's key. */
export async function encryptBodyBytes(bytes: Uint8Array, s: ResolvedSigner): Promise<Uint8Array> {
  return encryptBytes(bytes, { key: await encryptionKey(s), keyId: s.keyId })
}

/** A body that already has a content coding is not encrypted on top of it (one coding, SPEC §8). */
export function refuseCodedBody(headers: Headers): void {
  const ce = (headers.get('content-encoding') ?? '').trim().toLowerCase()
  if (ce !== '' && ce !== 'identity') {
    throw new ConfigurationError('encryptBody: the body already has a Content-Encoding; send it uncoded and Sigil encrypts it')
  }
}

/** True when a response says its content is `aes128gcm` (and nothing else). */
export function isEncrypted(headers: Headers): boolean {
  return (headers.get('content-encoding') ?? '').trim().toLowerCase() === ECE_CODING
}

/**
 * The response with its `aes128gcm` content decrypted as it streams (SPEC §8): the body is a
 * stream that errors with `BODY_DECRYPTION_FAILED` at the first record that does not check out,
 * before any of its bytes; `Content-Encoding` and `Content-Length` are dropped (they described
 * the ciphertext). A response without the coding is returned as it is.
 */
export async function decryptResponse(res: Response, s: ResolvedSigner): Promise<Response> {
  if (!isEncrypted(res.headers) || res.body === null) return res
  const key = await encryptionKey(s)
  const headers = new Headers(res.headers)
  headers.delete('content-encoding')
  headers.delete('content-length')
  const body = res.body.pipeThrough(decryptStream({ key: (id) => (id === s.keyId ? key : undefined) }))
  return new Response(body, { status: res.status, statusText: res.statusText, headers })
}

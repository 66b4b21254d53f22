import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { toBase64, toBytes } from './encoding.js'
import { VerificationError } from './errors.js'
import { timingSafeEqual } from './hmac.js'
import { nodeCrypto } from './platform.js'
import { isInnerList, parseDictionaryLimited, serializeByteSequence } from './structured-fields.js'

/** Digest algorithms Sigil computes and accepts (RFC 9530 §5, "Active"). */
export type DigestAlgorithm = 'sha-256' | 'sha-512'

/** The accepted algorithms, strongest first. */
export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['sha-512', 'sha-256']

/** An incremental hash: feed chunks, then read the digest once. Constant memory. */
export interface Hasher {
  update(chunk: Uint8Array): void
  digest(): Uint8Array
}

/**
 * Start an incremental digest. Node's native hash when available, else @noble/hashes (WebCrypto
 * has no streaming digest).
 */
export function createHasher(alg: DigestAlgorithm): Hasher {
  // node's Hash already has this shape; handing it out as is saves two closures per digest.
  if (nodeCrypto) return nodeCrypto.createHash(alg === 'sha-256' ? 'sha256' : 'sha512')
  const h = (alg === 'sha-256' ? sha256 : sha512).create()
  return { update: (c) => void h.update(c), digest: () => h.digest() }
}

/** Digest bytes in one call. */
export function digestBytes(alg: DigestAlgorithm, body: Uint8Array | string): Uint8Array {
  const h = createHasher(alg)
  h.update(toBytes(body))
  return h.digest()
}

/** Serialize one `Content-Digest` member, e.g. `sha-256=:X48E...=:`. */
export function formatContentDigest(alg: DigestAlgorithm, digest: Uint8Array): string {
  return `${alg}=:${toBase64(digest)}:`
}

/**
 * The `Content-Digest` header value for a complete body.
 *
 * @example
 * ```ts
 * contentDigest('{"hello": "world"}') // 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:'
 * ```
 */
export function contentDigest(body: Uint8Array | string, alg: DigestAlgorithm = 'sha-256'): string {
  return formatContentDigest(alg, digestBytes(alg, body))
}

/** Options for reading a stream while digesting it. */
export interface DigestStreamOptions {
  /** Algorithms to compute in the same pass. Default `['sha-256']`. */
  algorithms?: readonly DigestAlgorithm[]
  /** Stop with `BODY_TOO_LARGE` once more bytes than this arrive. */
  maxBytes?: number
  /** Called with every chunk (e.g. to forward it); the digester itself keeps nothing. */
  onChunk?: (chunk: Uint8Array) => void
}

/** Result of {@link digestStream}. */
export interface StreamDigest {
  bytes: number
  digests: Map<DigestAlgorithm, Uint8Array>
}

/** Incremental digesting with the limit check: feed chunks to `take`, then read `result()` once. */
export interface Digester {
  /** Hash one chunk; throws `BODY_TOO_LARGE` once more than `maxBytes` have arrived. */
  take: (chunk: Uint8Array | string) => void
  result(): StreamDigest
}

/** A {@link Digester} for push-style sources (Node `data` events, chunk arrays), in constant memory. */
export function createDigester(options: DigestStreamOptions = {}): Digester {
  const algs = options.algorithms ?? ['sha-256']
  const max = options.maxBytes ?? Number.POSITIVE_INFINITY
  const onChunk = options.onChunk
  // One algorithm is the common case: no array walk per chunk.
  const single = algs.length === 1 ? createHasher(algs[0] as DigestAlgorithm) : undefined
  const hashers = single ? [single] : algs.map(createHasher)
  let bytes = 0
  return {
    take(raw) {
      const chunk = toBytes(raw)
      bytes += chunk.byteLength
      if (bytes > max) throw new VerificationError('BODY_TOO_LARGE', `body exceeds ${max} bytes`)
      if (single) single.update(chunk)
      else for (const h of hashers) h.update(chunk)
      onChunk?.(chunk)
    },
    result() {
      const digests = new Map<DigestAlgorithm, Uint8Array>()
      for (let i = 0; i < algs.length; i++) digests.set(algs[i] as DigestAlgorithm, (hashers[i] as Hasher).digest())
      return { bytes, digests }
    },
  }
}

/** Digest an async iterable of chunks (a Web ReadableStream or a Node Readable) in constant memory. */
export async function digestStream(
  source: AsyncIterable<Uint8Array | string> | ReadableStream<Uint8Array>,
  options: DigestStreamOptions = {},
): Promise<StreamDigest> {
  const { take, result } = createDigester(options)
  if (typeof (source as ReadableStream<Uint8Array>).getReader === 'function') {
    // Read by hand: cancelling a tee()d branch through an async iterator waits for the other branch.
    const reader = (source as ReadableStream<Uint8Array>).getReader()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        take(value)
      }
    } catch (e) {
      reader.cancel().catch(() => {})
      throw e
    } finally {
      reader.releaseLock()
    }
  } else {
    for await (const raw of source as AsyncIterable<Uint8Array | string>) take(raw)
  }
  return result()
}

/**
 * Parse a `Content-Digest` value into the algorithms Sigil knows. Unknown algorithms are ignored
 * (RFC 9530 §2); a header with none Sigil knows yields an empty map.
 */
export function parseContentDigest(value: string, maxBytes = 4096): Map<DigestAlgorithm, Uint8Array> {
  // Sigil profile: an algorithm named twice is malformed, not "the last one wins".
  const dict = parseDictionaryLimited(value, maxBytes, 'Content-Digest', true)
  const out = new Map<DigestAlgorithm, Uint8Array>()
  for (const [key, member] of dict) {
    if (key !== 'sha-256' && key !== 'sha-512') continue
    const v = member[0]
    if (isInnerList(member) || !(v instanceof Uint8Array)) {
      throw new VerificationError('SIGNATURE_MALFORMED', 'Content-Digest member is not a byte sequence')
    }
    out.set(key, v)
  }
  return out
}

/**
 * Check computed digests against a `Content-Digest` header: every known algorithm present must
 * match; at least one known algorithm must be present.
 */
export function checkContentDigest(header: Map<DigestAlgorithm, Uint8Array>, computed: Map<DigestAlgorithm, Uint8Array>): void {
  if (header.size === 0) throw new VerificationError('DIGEST_MISMATCH', 'Content-Digest carries no supported algorithm')
  for (const [alg, want] of header) {
    const got = computed.get(alg)
    if (!got || !timingSafeEqual(got, want)) throw new VerificationError('DIGEST_MISMATCH', 'body does not match Content-Digest')
  }
}

/** Byte-sequence serialization (RFC 8941 §4.1.8), re-exported for callers that build fields. */
export function byteSequence(bytes: Uint8Array): string {
  return serializeByteSequence(bytes)
}

import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { toBase64, toBytes } from './encoding.js'
import { VerificationError } from './errors.js'
import { timingSafeEqual } from './hmac.js'
import { nodeCrypto, nodeHash } from './platform.js'
import { isInnerList, parseDictionaryLimited, parseShapedByteSequence, serializeByteSequence } from './structured-fields.js'

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
  if (nodeCrypto) return nodeCrypto.createHash(NODE_NAME[alg])
  const h = (alg === 'sha-256' ? sha256 : sha512).create()
  return { update: (c) => void h.update(c), digest: () => h.digest() }
}

const NODE_NAME: Record<DigestAlgorithm, string> = { 'sha-256': 'sha256', 'sha-512': 'sha512' }

/** Bytes of a latin1 string: one char per byte (a digest read as `'latin1'`). */
function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length)
  for (let k = 0; k < s.length; k++) out[k] = s.charCodeAt(k)
  return out
}

/**
 * Digest bytes in one call. On Node, one-shot `crypto.hash` read as latin1: no Hash object, no
 * Buffer (node:crypto allocates an external Buffer per digest, which costs more than hashing
 * 1 KiB).
 */
export function digestBytes(alg: DigestAlgorithm, body: Uint8Array | string): Uint8Array {
  if (nodeHash) return latin1Bytes(nodeHash(NODE_NAME[alg], body, 'latin1'))
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
  // Strings hash as UTF-8 either way (crypto.hash encodes them so, as toBytes does).
  if (nodeHash) return `${alg}=:${nodeHash(NODE_NAME[alg], body, 'base64')}:`
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

/**
 * A {@link Digester} for push-style sources (Node `data` events, chunk arrays), in constant memory.
 *
 * A body that arrives as one chunk (most requests) is hashed in one call when the result is read
 * (node's one-shot `crypto.hash`: no Hash object, no Buffer per digest); a second chunk starts
 * incremental hashing with the first. Until then the first chunk is held by reference, so, as for
 * `onChunk` consumers, a chunk must not be modified after it was passed to `take` — streams hand
 * each chunk over for good.
 */
export function createDigester(options: DigestStreamOptions = {}): Digester {
  const algs = options.algorithms ?? SHA256
  const max = options.maxBytes ?? Number.POSITIVE_INFINITY
  const onChunk = options.onChunk
  const oneShot = nodeHash !== undefined && algs.length > 0
  let first: Uint8Array | undefined
  let hashers: Hasher[] | undefined = oneShot ? undefined : algs.map(createHasher)
  let bytes = 0
  return {
    take(raw) {
      const chunk = toBytes(raw)
      bytes += chunk.byteLength
      if (bytes > max) throw new VerificationError('BODY_TOO_LARGE', `body exceeds ${max} bytes`)
      if (hashers) for (let k = 0; k < hashers.length; k++) (hashers[k] as Hasher).update(chunk)
      else if (first === undefined) first = chunk
      else {
        hashers = algs.map(createHasher)
        for (const h of hashers) {
          h.update(first)
          h.update(chunk)
        }
        first = undefined
      }
      onChunk?.(chunk)
    },
    result() {
      const digests = new Map<DigestAlgorithm, Uint8Array>()
      for (let k = 0; k < algs.length; k++) {
        const alg = algs[k] as DigestAlgorithm
        const h = hashers?.[k]
        digests.set(alg, h ? hasherDigest(h) : digestBytes(alg, first ?? EMPTY))
      }
      return { bytes, digests }
    },
  }
}

const SHA256: readonly DigestAlgorithm[] = ['sha-256']
const EMPTY = new Uint8Array(0)

// node's Hash returns a Buffer from digest(); read as latin1 it skips that allocation.
const hasherDigest = (h: Hasher): Uint8Array =>
  nodeCrypto ? latin1Bytes((h as unknown as { digest(e: 'latin1'): string }).digest('latin1')) : h.digest()

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
  // What signers send: one `sha-256=:…:` (or sha-512) member, read without the dictionary around it.
  if (value.length <= maxBytes && value.charCodeAt(7) === 0x3d /* = */) {
    const alg = value.startsWith('sha-256') ? 'sha-256' : value.startsWith('sha-512') ? 'sha-512' : undefined
    const bytes = alg && parseShapedByteSequence(value, 8)
    if (bytes) return new Map<DigestAlgorithm, Uint8Array>().set(alg as DigestAlgorithm, bytes)
  }
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

const TEXT_LENGTH: Record<DigestAlgorithm, number> = { 'sha-256': 44, 'sha-512': 88 }

/**
 * Whether `body` (all of it, in memory) matches a `Content-Digest` that is exactly one canonical
 * `sha-256` or `sha-512` member — what every Sigil client sends — decided without decoding the
 * header or building a Map: the digest is computed as base64 and compared with the header's text
 * (canonical base64 is one text per digest). `true` only for that match; `undefined` for anything
 * else (another form or algorithm, a non-canonical encoding, a digest that differs), which the
 * caller then checks with {@link parseContentDigest} and {@link checkContentDigest}, so the outcome,
 * error included, is the same either way. The comparison is plain: both sides are digests of the
 * bytes received (the header is covered by the MAC checked before), nothing secret.
 *
 * @example
 * ```ts
 * if (contentDigestMatches(header, body) === undefined) {
 *   const declared = parseContentDigest(header)
 *   const digester = createDigester({ algorithms: [...declared.keys()] })
 *   digester.take(body)
 *   checkContentDigest(declared, digester.result().digests) // throws DIGEST_MISMATCH
 * }
 * ```
 */
export function contentDigestMatches(value: string, body: Uint8Array | string): true | undefined {
  const alg = value.startsWith('sha-256=:') ? 'sha-256' : value.startsWith('sha-512=:') ? 'sha-512' : undefined
  if (alg === undefined || value.length !== 10 + TEXT_LENGTH[alg] || value.charCodeAt(value.length - 1) !== 0x3a) return undefined
  const computed = nodeHash ? nodeHash(NODE_NAME[alg], body, 'base64') : toBase64(digestBytes(alg, body))
  return value.startsWith(computed, 9) ? true : undefined
}

/** Byte-sequence serialization (RFC 8941 §4.1.8), re-exported for callers that build fields. */
export function byteSequence(bytes: Uint8Array): string {
  return serializeByteSequence(bytes)
}

import type { DigestAlgorithm } from '@sigil/core'
import { formatContentDigest } from '@sigil/core/internal'

// The Content-Digest of a body held in memory without core's incremental hasher, which carries
// @noble/hashes (~5 KiB gzip) into every browser bundle: on Node, node:crypto's
// one-shot hash (core's fast path, read the same way); elsewhere WebCrypto, which every browser and
// worker has. Streamed bodies (a Blob, a body factory) are hashed incrementally with node:crypto's
// createHash; off Node they are read whole and digested with WebCrypto, which has no incremental
// digest (see body.ts for the limit).

interface NodeCryptoHash {
  hash?(alg: string, data: Uint8Array, encoding: 'base64'): string
  createHash?(alg: string): { update(chunk: Uint8Array): unknown; digest(): Uint8Array }
}

function loadNodeCrypto(): NodeCryptoHash | undefined {
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    return proc?.getBuiltinModule?.('node:crypto') as NodeCryptoHash | undefined
  } catch {
    return undefined
  }
}

const nodeCrypto = loadNodeCrypto()
const nodeHash = nodeCrypto?.hash
const NODE_NAME: Record<DigestAlgorithm, string> = { 'sha-256': 'sha256', 'sha-512': 'sha512' }
const WEB_NAME: Record<DigestAlgorithm, string> = { 'sha-256': 'SHA-256', 'sha-512': 'SHA-512' }

/** The `Content-Digest` of a complete body held in memory. */
export async function contentDigestOf(bytes: Uint8Array, alg: DigestAlgorithm): Promise<string> {
  if (nodeHash) return `${alg}=:${nodeHash(NODE_NAME[alg], bytes, 'base64')}:`
  return formatContentDigest(alg, new Uint8Array(await crypto.subtle.digest(WEB_NAME[alg], bytes as Uint8Array<ArrayBuffer>)))
}

/** An incremental hash (node:crypto's), or undefined where the runtime has none. */
export function nodeHasher(alg: DigestAlgorithm): { update(chunk: Uint8Array): unknown; digest(): Uint8Array } | undefined {
  return nodeCrypto?.createHash?.(NODE_NAME[alg])
}

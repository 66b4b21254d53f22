// Node fast path without a static `node:` import, so the module stays loadable in browsers and
// workers. process.getBuiltinModule exists in Node >= 20.16, Bun and Deno. Only the few members
// we use are typed here, so core compiles without @types/node.

interface NodeHash {
  update(data: Uint8Array | string): NodeHash
  digest(): Uint8Array
  digest(encoding: 'latin1' | 'base64'): string
}

/** A Buffer as far as Sigil writes into one: the two encoders it uses. */
export interface NodeBufferLike extends Uint8Array {
  utf8Write(s: string, offset: number): number
  latin1Write(s: string, offset: number): number
}

/** The slice of node:crypto Sigil uses. */
export interface NodeCryptoSubset {
  createHmac(alg: string, key: Uint8Array | object): NodeHash
  createHash(alg: string): NodeHash
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean
  createSecretKey(key: Uint8Array): object
  /**
   * One-shot digest (Node >= 20.12, 21.7): no Hash object, and a string out instead of a Buffer,
   * whose allocation alone costs about as much as hashing a 1 KiB body.
   */
  hash?(alg: string, data: Uint8Array | string, outputEncoding: 'latin1' | 'base64'): string
  /** HKDF (RFC 5869): the derived bytes as an ArrayBuffer. */
  hkdfSync(digest: string, ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, keylen: number): ArrayBuffer
  createCipheriv(alg: 'aes-128-gcm', key: Uint8Array | object, iv: Uint8Array): NodeGcm
  createDecipheriv(alg: 'aes-128-gcm', key: Uint8Array | object, iv: Uint8Array): NodeGcm
}

/** A node:crypto AES-GCM Cipher or Decipher, as far as Sigil drives one. */
export interface NodeGcm {
  update(data: Uint8Array): Uint8Array
  final(): Uint8Array
  getAuthTag(): Uint8Array
  setAuthTag(tag: Uint8Array): NodeGcm
}

interface ProcessLike {
  getBuiltinModule?: (id: string) => unknown
}

function loadNodeCrypto(): NodeCryptoSubset | undefined {
  const proc = (globalThis as { process?: ProcessLike }).process
  try {
    return proc?.getBuiltinModule?.('node:crypto') as NodeCryptoSubset | undefined
  } catch {
    return undefined
  }
}

/** node:crypto when running on a runtime that has it, otherwise undefined. */
export const nodeCrypto: NodeCryptoSubset | undefined = loadNodeCrypto()

/** node:crypto's one-shot `hash`, when the runtime has it. */
export const nodeHash = typeof nodeCrypto?.hash === 'function' ? nodeCrypto.hash : undefined

const NodeBuffer = (globalThis as unknown as { Buffer?: { allocUnsafeSlow(n: number): NodeBufferLike } }).Buffer

/** A Buffer of `n` bytes outside the pool (kept for the process), or undefined off Node. */
export function scratchBuffer(n: number): NodeBufferLike | undefined {
  return NodeBuffer?.allocUnsafeSlow(n)
}

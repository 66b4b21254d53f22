// Node fast path without a static `node:` import, so the module stays loadable in browsers and
// workers. process.getBuiltinModule exists in Node >= 20.16, Bun and Deno. Only the few members
// we use are typed here, so core compiles without @types/node.

interface NodeHash {
  update(data: Uint8Array | string): NodeHash
  digest(): Uint8Array
}

/** The slice of node:crypto Sigil uses. */
export interface NodeCryptoSubset {
  createHmac(alg: string, key: Uint8Array | object): NodeHash
  createHash(alg: string): NodeHash
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean
  createSecretKey(key: Uint8Array): object
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

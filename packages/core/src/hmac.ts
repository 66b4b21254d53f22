import { nodeCrypto } from './platform.js'

/**
 * HMAC-SHA256 behind one small interface. On Node it is synchronous `node:crypto` (WebCrypto's
 * async round trip measured ~15x slower per request); elsewhere it is WebCrypto. Callers `await`
 * the result either way.
 *
 * @example
 * ```ts
 * const mac = await hmacSha256.sign(secret, signatureBase)
 * const ok = await hmacSha256.verify(secret, signatureBase, mac)
 * ```
 */
export interface Hmac {
  /** MAC of `data` (UTF-8) under `secret`. */
  sign(secret: Uint8Array, data: string): Uint8Array | Promise<Uint8Array>
  /** Constant-time check of `mac` against the MAC of `data`. */
  verify(secret: Uint8Array, data: string, mac: Uint8Array): boolean | Promise<boolean>
}

/** Compare two byte arrays in time that depends only on their lengths. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (nodeCrypto) {
    // node's timingSafeEqual throws on length mismatch; compare against self to keep the cost.
    if (a.length !== b.length) {
      nodeCrypto.timingSafeEqual(a, a)
      return false
    }
    return nodeCrypto.timingSafeEqual(a, b)
  }
  let diff = a.length ^ b.length
  const other = a.length === b.length ? b : a
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (other[i] as number)
  return diff === 0
}

function createNodeHmac(nc: NonNullable<typeof nodeCrypto>): Hmac {
  // Importing the secret once as a KeyObject skips a copy per request.
  const keys = new WeakMap<Uint8Array, object>()
  const keyOf = (secret: Uint8Array): object => {
    let k = keys.get(secret)
    if (!k) {
      k = nc.createSecretKey(secret)
      keys.set(secret, k)
    }
    return k
  }
  const sign = (secret: Uint8Array, data: string): Uint8Array => nc.createHmac('sha256', keyOf(secret)).update(data).digest()
  return {
    sign,
    verify: (secret, data, mac) => timingSafeEqual(sign(secret, data), mac),
  }
}

function createWebHmac(): Hmac {
  const keys = new WeakMap<Uint8Array, Promise<CryptoKey>>()
  const encoder = new TextEncoder()
  const keyOf = (secret: Uint8Array): Promise<CryptoKey> => {
    let k = keys.get(secret)
    if (!k) {
      k = crypto.subtle.importKey('raw', secret as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])
      keys.set(secret, k)
    }
    return k
  }
  return {
    async sign(secret, data) {
      return new Uint8Array(await crypto.subtle.sign('HMAC', await keyOf(secret), encoder.encode(data)))
    },
    async verify(secret, data, mac) {
      // subtle.verify compares in constant time.
      return crypto.subtle.verify('HMAC', await keyOf(secret), mac as Uint8Array<ArrayBuffer>, encoder.encode(data))
    },
  }
}

/** WebCrypto HMAC, available everywhere; exported so benchmarks and tests can compare. */
export const webHmacSha256: Hmac = createWebHmac()

/** The platform's fastest HMAC-SHA256: node:crypto when present, otherwise WebCrypto. */
export const hmacSha256: Hmac = nodeCrypto ? createNodeHmac(nodeCrypto) : webHmacSha256

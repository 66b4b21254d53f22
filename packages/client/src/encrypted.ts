/**
 * `@sigil/client/encrypted`: end-to-end encrypted bodies with the API key (SPEC §8, RFC 8188
 * `aes128gcm`). A separate entry, so apps that do not encrypt do not ship the cipher.
 */
import { decryptResponse, encryptBodyBytes, encryptPrepared } from './encrypt-body.js'
import type { BodyEncryption } from './options.js'

export type { BodyEncryption } from './options.js'

const ENCRYPTION: BodyEncryption = Object.freeze({ encryptPrepared, encryptBodyBytes, decryptResponse })

/**
 * What `encryptBody` takes on `signRequest` and `createSignedFetch`: request bodies are encrypted
 * with a key derived from the secret, encrypted answers are asked for and decrypted as they are read.
 *
 * @example
 * ```ts
 * import { createSignedFetch } from '@sigil/client'
 * import { bodyEncryption } from '@sigil/client/encrypted'
 * const api = createSignedFetch({ token: process.env.SIGIL_TOKEN!, encryptBody: bodyEncryption() })
 * ```
 */
export function bodyEncryption(): BodyEncryption {
  return ENCRYPTION
}

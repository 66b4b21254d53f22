import { ConfigurationError, formatToken, isKeyId } from '@sigil/core'
import { randomBytes } from '@sigil/core/internal'
import type { SignerOptions } from './options.js'
import { signRequest } from './sign-request.js'

/** A throw-away key for tests: a valid key id, a fresh 32-byte secret, and its token. */
export interface TestKey {
  /** 8-64 ASCII letters and digits (the key-id rule, docs/spec.md §4). */
  keyId: string
  /** 32 bytes from the platform CSPRNG. */
  secret: Uint8Array
  /** `sigil_sk_<keyId>_<secret>_<crc32>`: what `createSignedFetch({ token })` takes. */
  token: string
  /** `{ [keyId]: secret }`: what the server's `keys` option takes. */
  keys: Record<string, Uint8Array>
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/**
 * Make a key for a test, without a key store: give its `keys` to the server you test and the key
 * (or its `token`) to the client. `keyId` defaults to `kTest` + 12 random letters and digits; one
 * you pass must follow the key-id rule (8-64 letters and digits), or a `ConfigurationError` says so.
 *
 * @example
 * ```ts
 * import { createTestKey, signTestRequest } from '@sigil/client/testing'
 * const key = createTestKey()
 * const app = createApp({ keys: key.keys })
 * const res = await app.fetch(await signTestRequest(key, 'http://localhost/v1/orders', { method: 'POST', body: '{}' }))
 * ```
 */
export function createTestKey(options: { keyId?: string } = {}): TestKey {
  let keyId = options.keyId
  if (keyId === undefined) {
    keyId = 'kTest'
    for (const byte of randomBytes(12)) keyId += ALPHANUMERIC[byte % ALPHANUMERIC.length]
  } else if (!isKeyId(keyId)) {
    throw new ConfigurationError('createTestKey: keyId must be 8-64 ASCII letters and digits (e.g. kPartner01)')
  }
  const secret = randomBytes(32)
  return { keyId, secret, token: formatToken(keyId, secret), keys: { [keyId]: secret } }
}

/**
 * Sign one request for a test, in one call: like `fetch(input, init)`, with the key first.
 * Returns a signed `Request` (the same as `signRequest`), to hand to `app.fetch(…)`,
 * `app.request(…)`, `fetch(…)` or an msw handler. `options` are the signer's (`now`, `components`…).
 *
 * @example
 * ```ts
 * const signed = await signTestRequest(key, 'http://127.0.0.1:3000/v1/orders', { method: 'POST', body: '{"sku":"A-1"}' })
 * ```
 */
export async function signTestRequest(
  key: Pick<TestKey, 'keyId' | 'secret'> | { token: string },
  input: Request | string | URL,
  init?: RequestInit,
  options: Omit<SignerOptions, 'keyId' | 'secret' | 'token'> = {},
): Promise<Request> {
  const credentials = 'keyId' in key ? { keyId: key.keyId, secret: key.secret } : { token: key.token }
  const request = input instanceof Request && init === undefined ? input : new Request(input, init)
  return signRequest(request, { ...options, ...credentials } as SignerOptions)
}

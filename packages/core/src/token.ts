import { fromBase64Url, toBase64Url } from './encoding.js'
import { SigilError } from './errors.js'

/** Prefix of every live Sigil secret token: lets secret scanners (GitHub, gitleaks) match leaks. */
export const TOKEN_PREFIX = 'sigil_sk_'

/**
 * Prefix of a test key's token (SPEC §4): a scanner, a reviewer or a partner tells it from a live
 * token at a glance. Same length as {@link TOKEN_PREFIX}, same grammar after it.
 */
export const TEST_TOKEN_PREFIX = 'sigil_tk_'

const KEY_ID = /^[A-Za-z0-9]{8,64}$/
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

let crcTable: Uint32Array | undefined
function crc32(s: string): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      crcTable[n] = c >>> 0
    }
  }
  let crc = 0xffffffff
  for (let i = 0; i < s.length; i++) crc = (crcTable[(crc ^ s.charCodeAt(i)) & 0xff] as number) ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

/** CRC32 of the token body in 6 base62 characters (as GitHub's token checksums). */
function checksum(body: string): string {
  let n = crc32(body)
  let out = ''
  for (let i = 0; i < 6; i++) {
    out = BASE62[n % 62] + out
    n = Math.floor(n / 62)
  }
  return out
}

/** True for a well-formed key id: 8-64 ASCII letters and digits. */
export function isKeyId(keyId: string): boolean {
  return KEY_ID.test(keyId)
}

/** Options of {@link formatToken}. */
export interface FormatTokenOptions {
  /** A test key's token: prefix {@link TEST_TOKEN_PREFIX} instead of {@link TOKEN_PREFIX}. */
  test?: boolean
}

/**
 * The one-time secret token for a key: `sigil_sk_<keyId>_<secret base64url>_<crc32 base62>`
 * (`sigil_tk_…` for a test key). Grammar: SPEC §4.
 *
 * @example
 * ```ts
 * const token = formatToken('AbCdEf1234567890', secret) // 'sigil_sk_AbCdEf1234567890_…_3xY9Qk'
 * ```
 */
export function formatToken(keyId: string, secret: Uint8Array, options?: FormatTokenOptions): string {
  if (!isKeyId(keyId)) throw new SigilError('TOKEN_INVALID', 'key id must be 8-64 letters and digits')
  const body = `${options?.test ? TEST_TOKEN_PREFIX : TOKEN_PREFIX}${keyId}_${toBase64Url(secret)}`
  return `${body}_${checksum(body)}`
}

/** A token taken apart (SPEC §4): what a partner pastes into a system that wants the pieces. */
export interface TokenParts {
  /** `sigil_sk_` (live) or `sigil_tk_` (test). */
  prefix: string
  keyId: string
  /** The secret as it is written in the token: base64url without padding. */
  secret: string
  /** 6 base62 digits of the CRC-32 of everything before the last `_`. */
  checksum: string
  /** True for a test key's token. */
  test: boolean
}

/**
 * Take a token apart the one correct way (SPEC §4): the checksum after the last `_`, the key id
 * before the first `_` after the prefix, the secret (which may contain `_`) in between; prefix,
 * key id, checksum and secret length are checked. Errors never echo the token.
 *
 * @example
 * ```ts
 * const { keyId, secret, checksum } = tokenParts(process.env.SIGIL_TOKEN!)
 * ```
 */
export function tokenParts(token: string): TokenParts {
  const t = token.trim()
  const test = t.startsWith(TEST_TOKEN_PREFIX)
  if (!test && !t.startsWith(TOKEN_PREFIX)) throw new SigilError('TOKEN_INVALID', `token must start with ${TOKEN_PREFIX}`)
  const prefix = test ? TEST_TOKEN_PREFIX : TOKEN_PREFIX
  const rest = t.slice(prefix.length)
  const first = rest.indexOf('_')
  const last = rest.lastIndexOf('_')
  if (first < 0 || last <= first) throw new SigilError('TOKEN_INVALID', 'token is truncated or malformed')
  const keyId = rest.slice(0, first)
  const secret = rest.slice(first + 1, last)
  const sum = rest.slice(last + 1)
  if (!isKeyId(keyId)) throw new SigilError('TOKEN_INVALID', 'token has a malformed key id')
  if (checksum(t.slice(0, prefix.length + last)) !== sum) {
    throw new SigilError('TOKEN_INVALID', 'token checksum does not match: it was mistyped or truncated')
  }
  return { prefix, keyId, secret, checksum: sum, test }
}

/**
 * Split a token into key id and secret, checking prefix, shape and checksum locally so a typo
 * fails before any network round trip. `test` says it is a test key's token. Errors never echo the token.
 */
export function parseToken(token: string): { keyId: string; secret: Uint8Array; test: boolean } {
  const parts = tokenParts(token)
  const secret = fromBase64Url(parts.secret)
  if (!secret || secret.length < 32) throw new SigilError('TOKEN_INVALID', 'token secret is malformed or shorter than 32 bytes')
  return { keyId: parts.keyId, secret, test: parts.test }
}

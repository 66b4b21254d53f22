import { formatToken, type KeyRecord } from '@sigil/core'
import { DEFAULT_ALGORITHM, type Renames, randomBytes, zodOptionsError } from '@sigil/core/internal'
import { z } from 'zod'
import type { CreateKeyInput } from './key-store.js'

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/** Bytes of secret per key: 256 bits (SPEC §4 asks for at least 32 bytes). */
export const SECRET_BYTES = 32

/** Length of a generated key id: 22 base62 characters, ~131 random bits. */
export const KEY_ID_LENGTH = 22

/** Key fields renamed in the last release: refused with a message naming the successor. */
export const KEY_RENAMES: Renames = {
  limits: 'rateLimits',
  windowSeconds: ['windowMs', 'milliseconds'],
  periodSeconds: ['periodMs', 'milliseconds'],
}

const scope = z.string().min(1).max(128).regex(/^\S+$/, 'scopes contain no whitespace')

/** Deepest nesting of a key's metadata (objects and arrays). */
export const METADATA_MAX_DEPTH = 16
/** Largest metadata, as JSON bytes. */
export const METADATA_MAX_BYTES = 16_384

/**
 * What is wrong with a metadata value, or undefined. Walked without recursion, so a value nested
 * thousands of levels deep (or cyclic) is refused instead of overflowing the stack in
 * `JSON.stringify` on its way to the database.
 */
function metadataProblem(value: unknown): string | undefined {
  const stack: Array<[unknown, number]> = [[value, 1]]
  let nodes = 0
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number]
    if (v === null || typeof v === 'string' || typeof v === 'boolean') continue
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return 'numbers must be finite'
      continue
    }
    if (typeof v !== 'object') return `a ${typeof v} is not JSON`
    if (depth > METADATA_MAX_DEPTH) return `nested deeper than ${METADATA_MAX_DEPTH} levels`
    if (++nodes > METADATA_MAX_BYTES) return `larger than ${METADATA_MAX_BYTES} bytes of JSON`
    for (const c of Object.values(v)) stack.push([c, depth + 1])
  }
  if (new TextEncoder().encode(JSON.stringify(value)).byteLength > METADATA_MAX_BYTES)
    return `larger than ${METADATA_MAX_BYTES} bytes of JSON`
  return undefined
}

/**
 * zod schema of a key's metadata: a JSON object at most {@link METADATA_MAX_DEPTH} levels deep and
 * {@link METADATA_MAX_BYTES} bytes as JSON. Shared by every store and the admin API.
 */
export const metadataSchema = z.record(z.string().max(256), z.unknown()).superRefine((v, ctx) => {
  const problem = metadataProblem(v)
  if (problem) ctx.addIssue({ code: 'custom', message: `metadata ${problem}` })
})

/** zod schema of {@link CreateKeyInput}; shared by every store. */
export const createKeyInputSchema = z.strictObject({
  principal: z.string().min(1).max(256),
  scopes: z.array(scope).max(256).optional(),
  expiresAt: z.date().optional(),
  rateLimits: z
    .strictObject({
      rate: z.strictObject({ points: z.number().int().positive(), windowMs: z.number().positive() }).optional(),
      quota: z.strictObject({ points: z.number().int().positive(), periodMs: z.number().positive() }).optional(),
    })
    .optional(),
  metadata: metadataSchema.optional(),
  test: z.boolean().optional(),
})

/** zod schema of a scope list (for `setScopes`). */
export const scopesSchema = z.array(scope).max(256)

/**
 * A random key id that satisfies core's `isKeyId` (letters and digits only, so it survives
 * copy-paste, URLs and structured-field strings). Rejection sampling keeps it uniform.
 *
 * @example
 * ```ts
 * createKeyId() // 'q3Zr8VwY2cKx0bLmN4tP7e'
 * ```
 */
export function createKeyId(length = KEY_ID_LENGTH): string {
  let out = ''
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248 && out.length < length) out += BASE62[b % 62]
    }
  }
  return out
}

/** Options of {@link generateKey}. */
export interface GenerateKeyOptions extends CreateKeyInput {
  /** Clock in milliseconds since the epoch, for tests. Default `Date.now`. */
  now?: () => number
}

const generateKeySchema = createKeyInputSchema.extend({ now: z.function().optional() })

/** A new key: the one-time token, its parts and the record to store. */
export interface GeneratedKey {
  keyId: string
  /** {@link SECRET_BYTES} bytes from the platform CSPRNG. */
  secret: Uint8Array
  /** `sigil_sk_<keyId>_<secret>_<crc32>` (`sigil_tk_…` for a test key): scanner-friendly prefix, typo-catching checksum (SPEC §4). */
  token: string
  record: KeyRecord
}

/**
 * Generate a key: a fresh id, a 256-bit secret and the token shown to the user once. Nothing is
 * stored; stores call this from `create` and `rotate`.
 *
 * @example
 * ```ts
 * const { keyId, token } = generateKey({ principal: 'acme', scopes: ['orders:read'] })
 * console.log(token) // sigil_sk_…, show once
 * ```
 */
export function generateKey(options: GenerateKeyOptions): GeneratedKey {
  const parsed = generateKeySchema.safeParse(options)
  if (!parsed.success) throw zodOptionsError('key options', parsed.error, generateKeySchema, KEY_RENAMES)
  const o = parsed.data
  const keyId = createKeyId()
  const secret = randomBytes(SECRET_BYTES)
  const record: KeyRecord = {
    keyId,
    secret,
    principal: o.principal,
    scopes: [...(o.scopes ?? [])],
    status: 'active',
    createdAt: new Date((options.now ?? Date.now)()),
    algorithm: DEFAULT_ALGORITHM,
    ...(o.expiresAt ? { expiresAt: o.expiresAt } : {}),
    ...(o.rateLimits ? { rateLimits: o.rateLimits } : {}),
    ...(o.metadata ? { metadata: o.metadata } : {}),
    ...(o.test ? { test: true as const } : {}),
  }
  return { keyId, secret, token: formatToken(keyId, secret, { test: o.test === true }), record }
}

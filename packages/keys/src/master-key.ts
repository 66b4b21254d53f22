import { ConfigurationError } from '@sigil/core'
import { checkOptions, fromBase64, fromBase64Url, optionNames, randomBytes, toBase64 } from '@sigil/core/internal'
import { z } from 'zod'

/** Master keys by version; `current` encrypts, every version decrypts. */
export interface MasterKeyRing {
  readonly current: string
  readonly keys: ReadonlyMap<string, Uint8Array>
}

/** The object form of a master-key configuration. */
export interface MasterKeyOptions {
  /** Version that encrypts new and re-encrypted secrets. */
  current: string
  /** Every version still needed to decrypt, as 32 bytes or base64/base64url text. */
  keys: Record<string, string | Uint8Array>
}

/** Anything a store accepts as `masterKey`: the `SIGIL_MASTER_KEY` string, the object form, or a parsed ring. */
export type MasterKeyInput = string | MasterKeyOptions | MasterKeyRing

const MASTER_KEY_OPTION_NAMES = optionNames<MasterKeyOptions>({ current: true, keys: true })

const VERSION = /^[A-Za-z0-9_.-]{1,32}$/
const version = z.string().regex(VERSION, 'master-key versions are 1-32 of [A-Za-z0-9_.-]')

function keyBytes(v: string | Uint8Array, ver: string): Uint8Array {
  const bytes = typeof v === 'string' ? (fromBase64(v.trim()) ?? fromBase64Url(v.trim())) : v
  if (bytes?.length !== 32) {
    // Never echo the value: it is the master key.
    throw new ConfigurationError(`master key ${ver} must be exactly 32 bytes, base64 or base64url encoded`)
  }
  return bytes
}

function parseString(s: string): MasterKeyOptions {
  const entries = s
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
  if (entries.length === 0) throw new ConfigurationError('master key is empty')
  const keys: Record<string, string> = {}
  let current: string | undefined
  for (const e of entries) {
    const colon = e.indexOf(':')
    // base64 never contains ':', so a bare key is unambiguous: it is version v1.
    const [ver, value] = colon < 0 ? ['v1', e] : [e.slice(0, colon), e.slice(colon + 1)]
    if (!VERSION.test(ver)) throw new ConfigurationError('master-key versions are 1-32 of [A-Za-z0-9_.-]')
    if (ver in keys) throw new ConfigurationError(`master key version ${ver} is listed twice`)
    keys[ver] = value
    current ??= ver
  }
  return { current: current as string, keys }
}

/**
 * Parse a master-key configuration once. The string form is what `SIGIL_MASTER_KEY` holds:
 * comma-separated `version:base64` entries, the first one current (`"v2:AAA…,v1:BBB…"`); a bare
 * base64 key means version `v1`. Each key is 32 bytes (AES-256-GCM).
 *
 * @example
 * ```ts
 * const ring = parseMasterKey(process.env.SIGIL_MASTER_KEY)
 * const ring2 = parseMasterKey({ current: 'v2', keys: { v2: newKey, v1: oldKey } })
 * ```
 */
export function parseMasterKey(input: MasterKeyInput | undefined): MasterKeyRing {
  if (input === undefined || input === '') {
    throw new ConfigurationError(
      'a master key is required to encrypt secrets at rest: set SIGIL_MASTER_KEY (e.g. "v1:<32 bytes base64>", see `sigil master-key generate`) or pass masterKey',
    )
  }
  if (typeof input === 'object' && input.keys instanceof Map) {
    const ring = input as MasterKeyRing
    if (!ring.keys.has(ring.current)) throw new ConfigurationError('current master-key version has no key')
    return ring
  }
  const o = typeof input === 'string' ? parseString(input) : (input as MasterKeyOptions)
  checkOptions('master-key options', o, MASTER_KEY_OPTION_NAMES)
  const shape = z.object({ current: version, keys: z.record(version, z.union([z.string(), z.instanceof(Uint8Array)])) }).safeParse(o)
  if (!shape.success) throw new ConfigurationError('invalid master-key options', { cause: new Error(shape.error.issues[0]?.message) })
  const keys = new Map<string, Uint8Array>()
  for (const [ver, v] of Object.entries(shape.data.keys)) keys.set(ver, keyBytes(v, ver))
  if (!keys.has(shape.data.current)) throw new ConfigurationError(`current master-key version ${shape.data.current} has no key`)
  return Object.freeze({ current: shape.data.current, keys })
}

/**
 * A fresh master key in the `SIGIL_MASTER_KEY` string form.
 *
 * @example
 * ```ts
 * generateMasterKey('v2') // 'v2:q8Vw…='
 * ```
 */
export function generateMasterKey(ver = 'v1'): string {
  if (!VERSION.test(ver)) throw new ConfigurationError('master-key versions are 1-32 of [A-Za-z0-9_.-]')
  return `${ver}:${toBase64(randomBytes(32))}`
}

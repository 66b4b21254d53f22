import { z } from 'zod'
import type { MasterKeyInput } from './master-key.js'

/** Options every key store takes. */
export interface StoreOptions {
  /**
   * Master key(s) that encrypt secrets at rest: the `SIGIL_MASTER_KEY` string
   * (`"v2:<base64>,v1:<base64>"`, first is current) or `{ current, keys }`. Required by
   * persistent stores; the library never reads the environment itself.
   */
  masterKey?: MasterKeyInput
  /** Clock in milliseconds since the epoch, for tests. Default `Date.now`. */
  now?: () => number
  /** Grace of `rotate()` when the call does not say. Default 24 h. */
  defaultGraceMs?: number
}

/**
 * zod schema of {@link StoreOptions}; the master key itself is checked by `parseMasterKey`. Strict:
 * an unknown option is refused (each store's schema extends this one with its own).
 */
export const storeOptionsSchema = z.strictObject({
  masterKey: z.unknown().optional(),
  now: z.function().optional(),
  defaultGraceMs: z.number().int().min(0).optional(),
})

/** The {@link StoreOptions} part of a store's options, for `createBackedKeyStore`. */
export function storeOptionsOf(o: StoreOptions): StoreOptions {
  return {
    ...(o.masterKey !== undefined ? { masterKey: o.masterKey } : {}),
    ...(o.now !== undefined ? { now: o.now } : {}),
    ...(o.defaultGraceMs !== undefined ? { defaultGraceMs: o.defaultGraceMs } : {}),
  }
}

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

/** zod schema of {@link StoreOptions}; the master key itself is checked by `parseMasterKey`. */
export const storeOptionsSchema = z
  .object({
    masterKey: z.unknown().optional(),
    now: z.function().optional(),
    defaultGraceMs: z.number().int().min(0).optional(),
    requireMasterKey: z.boolean().optional(),
  })
  .passthrough()

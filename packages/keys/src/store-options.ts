import { hostname, userInfo } from 'node:os'
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
  /**
   * Who this store's changes are recorded as in its audit log, unless `store.as(actor)` says
   * otherwise. Default `process:<user>@<host>`; the `sigil` command passes `cli:<user>@<host>`.
   */
  actor?: string
}

/** `process:<user>@<host>`: the audit log's actor when a store is given none. */
export function defaultActor(kind = 'process'): string {
  let user = 'unknown'
  try {
    user = userInfo().username
  } catch {
    // no passwd entry (some containers): the host still says where the change came from
  }
  return `${kind}:${user}@${hostname()}`
}

/**
 * zod schema of {@link StoreOptions}; the master key itself is checked by `parseMasterKey`. Strict:
 * an unknown option is refused (each store's schema extends this one with its own).
 */
export const storeOptionsSchema = z.strictObject({
  masterKey: z.unknown().optional(),
  now: z.function().optional(),
  defaultGraceMs: z.number().int().min(0).optional(),
  actor: z.string().min(1).max(256).optional(),
})

/** The {@link StoreOptions} part of a store's options, for `createBackedKeyStore`. */
export function storeOptionsOf(o: StoreOptions): StoreOptions {
  return {
    ...(o.masterKey !== undefined ? { masterKey: o.masterKey } : {}),
    ...(o.now !== undefined ? { now: o.now } : {}),
    ...(o.defaultGraceMs !== undefined ? { defaultGraceMs: o.defaultGraceMs } : {}),
    ...(o.actor !== undefined ? { actor: o.actor } : {}),
  }
}

import { existsSync } from 'node:fs'
import { hostname, userInfo } from 'node:os'
import { resolve } from 'node:path'
import type { EncryptedKeyStore } from '@sigil/keys'
import type { CliIo } from './io.js'

/** Where the embedded store lives unless `--store` or `SIGIL_STORE` says otherwise. */
export const DEFAULT_STORE_PATH = './.sigil/keys.db'

/** Store flags as parsed. */
export interface StoreFlags {
  store?: string | undefined
  'database-url'?: string | undefined
  'database-schema'?: string | undefined
}

/**
 * Who the audit log records for changes made by this command: `SIGIL_ACTOR` if set (an operator's
 * name), else `cli:<user>@<host>`.
 */
export function cliActor(io: CliIo): string {
  const named = io.env.SIGIL_ACTOR?.trim()
  if (named) return named.slice(0, 256)
  let user = io.env.USER ?? 'unknown'
  try {
    user = userInfo().username
  } catch {
    // no passwd entry (containers): $USER or unknown
  }
  return `cli:${user}@${hostname()}`
}

/** Which store the flags and environment select. */
export function storeLocation(
  flags: StoreFlags,
  io: CliIo,
): { kind: 'postgres'; url: string; schema?: string } | { kind: 'sqlite'; path: string } {
  const url = flags['database-url'] ?? io.env.SIGIL_DATABASE_URL
  const schema = flags['database-schema'] ?? io.env.SIGIL_DATABASE_SCHEMA
  if (url) return { kind: 'postgres', url, ...(schema ? { schema } : {}) }
  return { kind: 'sqlite', path: resolve(io.cwd, flags.store ?? io.env.SIGIL_STORE ?? DEFAULT_STORE_PATH) }
}

/**
 * Open the selected key store with `SIGIL_MASTER_KEY`. Store modules are imported lazily so a
 * SQLite command never loads `pg`. With `mustExist`, a missing SQLite file is reported as
 * undefined instead of being created (read-only commands).
 *
 * @example
 * ```ts
 * const store = await openStore(values, io)
 * ```
 */
export async function openStore(flags: StoreFlags, io: CliIo, mustExist = false): Promise<EncryptedKeyStore | undefined> {
  const where = storeLocation(flags, io)
  const masterKey = io.env.SIGIL_MASTER_KEY
  const actor = cliActor(io)
  if (where.kind === 'postgres') {
    const { createPostgresKeyStore } = await import('@sigil/keys/postgres')
    return createPostgresKeyStore({ connectionString: where.url, masterKey, actor, ...(where.schema ? { schema: where.schema } : {}) })
  }
  if (mustExist && !existsSync(where.path)) return undefined
  const { createSqliteKeyStore } = await import('@sigil/keys/sqlite')
  return createSqliteKeyStore({ path: where.path, masterKey, actor })
}

/** Run `fn` on an open store and always close it. */
export async function withStore<T>(
  flags: StoreFlags,
  io: CliIo,
  fn: (store: EncryptedKeyStore | undefined) => Promise<T>,
  mustExist = false,
): Promise<T> {
  const store = await openStore(flags, io, mustExist)
  try {
    return await fn(store)
  } finally {
    await store?.close()
  }
}

import { existsSync } from 'node:fs'
import { hostname, userInfo } from 'node:os'
import { dirname, join, resolve } from 'node:path'
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

/**
 * The directory a relative store path resolves against: the working directory, except when pnpm
 * runs the CLI inside its own package (`pnpm --filter @sigil/cli exec sigil …` in a checkout of
 * this repository moves to packages/cli and sets no INIT_CWD): then the workspace root, so the
 * README's `pnpm exec sigil` at the root and the filtered form share one `./.sigil`.
 */
function baseDir(io: CliIo): string {
  if (io.env.PNPM_PACKAGE_NAME !== '@sigil/cli') return io.cwd
  for (let dir = io.cwd; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir
    if (dirname(dir) === dir) return io.cwd
  }
}

/** Which store the flags and environment select. */
export function storeLocation(
  flags: StoreFlags,
  io: CliIo,
): { kind: 'postgres'; url: string; schema?: string } | { kind: 'sqlite'; path: string } {
  const url = flags['database-url'] ?? io.env.SIGIL_DATABASE_URL
  const schema = flags['database-schema'] ?? io.env.SIGIL_DATABASE_SCHEMA
  if (url) return { kind: 'postgres', url, ...(schema ? { schema } : {}) }
  return { kind: 'sqlite', path: resolve(baseDir(io), flags.store ?? io.env.SIGIL_STORE ?? DEFAULT_STORE_PATH) }
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

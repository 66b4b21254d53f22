import { resolve } from 'node:path'
import type { SqliteKeyStore } from '@sigil/keys/sqlite'
import { onePositional, parseCommandArgs, STORE_OPTIONS } from '../args.js'
import { usageError } from '../exit-codes.js'
import { toJson } from '../format.js'
import type { Command } from '../io.js'
import { storeLocation, withStore } from '../open-store.js'

const PG_HINT =
  'this store is PostgreSQL: back it up with pg_dump of its schema (pg_dump --schema=SCHEMA -Fc), restore with pg_restore; see "Backups and disaster recovery" in the README'

/** `sigil keys backup FILE`: a consistent copy of the embedded store, secrets still encrypted. */
export const keysBackup: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, STORE_OPTIONS)
  const file = resolve(ctx.io.cwd, onePositional(positionals, 'a backup file', 'sigil keys backup FILE'))
  if (storeLocation(values, ctx.io).kind === 'postgres') throw usageError(PG_HINT)
  return withStore(
    values,
    ctx.io,
    async (store) => {
      if (!store) throw usageError(`no key store at ${(storeLocation(values, ctx.io) as { path: string }).path} to back up`)
      await (store as SqliteKeyStore).backup(file)
      const keys = (await store.list()).length
      ctx.io.stdout.write(
        ctx.json
          ? toJson({ file, keys })
          : `Backed up ${keys} key(s) to ${file} (mode 0600; secrets stay encrypted under SIGIL_MASTER_KEY — keep the master key, separately, to restore).\n`,
      )
      return 0
    },
    true,
  )
}

/** `sigil keys restore FILE [--force]`: replace the embedded store's keys with a backup's. */
export const keysRestore: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, { ...STORE_OPTIONS, force: { type: 'boolean' } })
  const file = resolve(ctx.io.cwd, onePositional(positionals, 'a backup file', 'sigil keys restore FILE [--force]'))
  if (storeLocation(values, ctx.io).kind === 'postgres') throw usageError(PG_HINT)
  return withStore(values, ctx.io, async (store) => {
    const { keys } = await (store as SqliteKeyStore).restore(file, { replace: values.force === true })
    ctx.io.stdout.write(
      ctx.json
        ? toJson({ file, keys })
        : `Restored ${keys} key(s) from ${file}. Keys created after the backup are gone; servers that cache keys see the restored state within their key-cache TTL.\n`,
    )
    return 0
  })
}

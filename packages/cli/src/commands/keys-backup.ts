import { resolve } from 'node:path'
import type { RestoreResult, SqliteKeyStore } from '@sigil/keys/sqlite'
import { announceKeyChanges } from '../announce.js'
import { onePositional, parseCommandArgs, STORE_OPTIONS } from '../args.js'
import { usageError } from '../exit-codes.js'
import { toJson } from '../format.js'
import type { Command } from '../io.js'
import { storeLocation, withStore } from '../open-store.js'

const PG_HINT =
  'this store is PostgreSQL: back it up with pg_dump of its schema (pg_dump --schema=SCHEMA -Fc), restore with pg_restore; see "Backups and disaster recovery" in the README. To move keys to or from another store: sigil keys export / sigil keys import'

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

const RESTORE_USAGE = 'sigil keys restore FILE [--force] [--dry-run] [--resurrect KEY_ID]…'

function diffText(file: string, r: RestoreResult): string {
  const d = r.diff
  const lines = [
    r.dryRun ? `Restoring ${file} would leave ${r.keys} key(s) (dry run: nothing written).` : `Restored ${r.keys} key(s) from ${file}.`,
  ]
  const list = (title: string, items: string[]) => {
    if (items.length === 0) return
    lines.push(`  ${title} (${items.length}):`)
    for (const i of items.slice(0, 50)) lines.push(`    ${i}`)
    if (items.length > 50) lines.push(`    … ${items.length - 50} more (--json lists them all)`)
  }
  list(
    'kept ended — revoked, rotated or expired in the store since the backup, and they stay so',
    d.kept.map((k) => `${k.keyId} (${k.ending.join(', ')})`),
  )
  list(
    'resurrected as the backup has them (--resurrect)',
    d.resurrected.map((k) => `${k.keyId} (was ${k.ending.join(', ')})`),
  )
  list('gone — created after the backup', d.removed)
  list('back — in the backup, not in the store', d.added)
  list(
    'changed back to the backup',
    d.changed.map((k) => `${k.keyId} (${k.fields.join(', ')})`),
  )
  if (d.kept.length > 0) {
    lines.push(`To bring a kept key back as the backup has it, read the diff above and run again with --resurrect KEY_ID.`)
  }
  return `${lines.join('\n')}\n`
}

/**
 * `sigil keys restore FILE [--force] [--dry-run] [--resurrect KEY_ID]…`: replace the embedded
 * store's keys with a backup's, keeping every revocation (and rotation, earlier expiry) recorded
 * since the backup unless named with --resurrect; prints the diff and announces every touched key.
 */
export const keysRestore: Command = async (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, {
    ...STORE_OPTIONS,
    force: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    resurrect: { type: 'string', multiple: true },
  })
  const file = resolve(ctx.io.cwd, onePositional(positionals, 'a backup file', RESTORE_USAGE))
  if (storeLocation(values, ctx.io).kind === 'postgres') throw usageError(PG_HINT)
  const resurrect = (values.resurrect ?? []).flatMap((s) => s.split(',')).filter(Boolean)
  return withStore(values, ctx.io, async (store) => {
    const r = await (store as SqliteKeyStore).restore(file, {
      replace: values.force === true,
      dryRun: values['dry-run'] === true,
      ...(resurrect.length ? { resurrect } : {}),
    })
    ctx.io.stdout.write(ctx.json ? toJson({ file, keys: r.keys, dryRun: r.dryRun, diff: r.diff }) : diffText(file, r))
    if (r.dryRun) return 0
    return announceKeyChanges(
      ctx.io,
      restoredKeyIds(r.diff).map((keyId) => ({ type: 'restored', keyId })),
    )
  })
}

function restoredKeyIds(d: RestoreResult['diff']): string[] {
  return [...d.added, ...d.removed, ...d.kept.map((k) => k.keyId), ...d.resurrected.map((k) => k.keyId), ...d.changed.map((k) => k.keyId)]
}

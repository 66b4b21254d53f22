import { existsSync } from 'node:fs'
import { basename } from 'node:path'
import { ConfigurationError } from '@sigil/core'
import type { MasterKeyRing } from './master-key.js'
import { checkMasterKeys } from './master-key-check.js'
import { checkBackupRows, planRestore, type RestoreDiff } from './restore-plan.js'
import { SQLITE_COLUMNS, sqliteMasterKeyEvidence, sqliteRows, sqliteRowValues, storeError } from './sqlite-backend.js'
import { openSqliteDatabase, type SqliteDatabase } from './sqlite-driver.js'
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js'

/** Options of `restore` on the SQLite store. */
export interface RestoreOptions {
  /** Restore into a store that already holds keys (they are all replaced). Default false. */
  replace?: boolean
  /**
   * Key ids (from a diff: `dryRun` first) whose ending recorded after the backup — revocation,
   * rotation's end, an earlier expiry — the restore may undo. Every other ending is kept.
   */
  resurrect?: readonly string[]
  /** Check the backup and compute the diff, write nothing. */
  dryRun?: boolean
  /** Who is restoring, for the audit log. Default the store's actor. */
  actor?: string
}

/** What a restore did (or, with `dryRun`, would do). */
export interface RestoreResult {
  /** Keys in the store after the restore. */
  keys: number
  diff: RestoreDiff
  dryRun: boolean
}

/**
 * Check a backup file and restore it into `db`: SQLite integrity, schema version, master-key
 * checks and every row's record MAC are verified before anything is written; then, in one
 * transaction, the keys are replaced by the backup's, keeping every ending recorded in the store
 * since the backup (tombstones) unless `resurrect` names the key, with a `key.restore` audit event.
 */
export function restoreSqlite(
  db: SqliteDatabase,
  table: string,
  ring: MasterKeyRing,
  file: string,
  o: RestoreOptions & { actor: string; now: Date },
): RestoreResult {
  if (!existsSync(file)) throw new ConfigurationError('no backup file at that path')
  let bak: SqliteDatabase
  try {
    bak = openSqliteDatabase(file, { readonly: true, fileMustExist: true, driver: db.driver })
  } catch (e) {
    throw new ConfigurationError('the backup file is not a SQLite database', { cause: e })
  }
  let backup: ReturnType<typeof sqliteRows>
  try {
    const ok = bak.prepare('PRAGMA integrity_check').get()?.integrity_check
    if (ok !== 'ok') throw new ConfigurationError('the backup file failed SQLite integrity_check')
    const latest = Math.max(...SQLITE_MIGRATIONS.map((m) => m.version))
    const has = bak.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?`)
    if (!has.get(table) || !has.get(`${table}_master_keys`))
      throw new ConfigurationError(`the backup file has no ${table} store of this Sigil version`)
    const version = Number(bak.prepare(`SELECT max(version) AS v FROM "${table}_migrations"`).get()?.v)
    if (version !== latest) {
      throw new ConfigurationError(
        `the backup file is at schema version ${version}, this store at ${latest}: open the backup once with this release (sigil keys list --store FILE) to upgrade it, then restore it`,
      )
    }
    // The backup's secrets must open under this master key, or restoring would lose them; and
    // every row must pass its record MAC, or an edited backup would grant what no one issued.
    checkMasterKeys(ring, sqliteMasterKeyEvidence(bak, 'main', table))
    backup = sqliteRows(bak, 'main', table)
    checkBackupRows(ring, backup)
  } catch (e) {
    throw storeError(e)
  } finally {
    bak.close()
  }
  const resurrect = new Set(o.resurrect ?? [])
  if (o.dryRun) {
    const plan = planRestore(ring, sqliteRows(db, 'main', table), backup, resurrect)
    return { keys: plan.rows.length, diff: plan.diff, dryRun: true }
  }
  try {
    db.prepare('ATTACH DATABASE ? AS bak').run(file)
  } catch (e) {
    throw storeError(e)
  }
  try {
    return db.immediate(() => {
      const current = sqliteRows(db, 'main', table)
      if (current.length > 0 && !o.replace) {
        throw new ConfigurationError(
          `this store already holds ${current.length} key(s); restoring replaces them all (pass replace / --force)`,
        )
      }
      const plan = planRestore(ring, current, backup, resurrect)
      const unknown = [...resurrect].filter((id) => !plan.diff.resurrected.some((k) => k.keyId === id))
      if (unknown.length > 0) {
        throw new ConfigurationError(
          `resurrect names key(s) this restore would not bring back (not ended in the store since the backup): ${unknown.slice(0, 10).join(', ')}. Nothing was written.`,
        )
      }
      db.prepare(`DELETE FROM main."${table}"`).run()
      const insert = db.prepare(
        `INSERT INTO main."${table}" (${SQLITE_COLUMNS}) VALUES (${SQLITE_COLUMNS.split(',').fill('?').join(', ')})`,
      )
      for (const r of plan.rows) insert.run(...sqliteRowValues(r))
      db.prepare(`INSERT OR REPLACE INTO main."${table}_master_keys" SELECT * FROM bak."${table}_master_keys"`).run()
      const cap = (xs: string[]) => xs.slice(0, 100)
      db.prepare(
        `INSERT INTO main."${table}_events" (at, actor, action, key_id, principal, detail) VALUES (?, ?, 'key.restore', NULL, NULL, ?)`,
      ).run(
        o.now.getTime(),
        o.actor,
        JSON.stringify({
          file: basename(file),
          keys: plan.rows.length,
          added: cap(plan.diff.added),
          removed: cap(plan.diff.removed),
          kept: cap(plan.diff.kept.map((k) => k.keyId)),
          resurrected: cap(plan.diff.resurrected.map((k) => k.keyId)),
          changed: cap(plan.diff.changed.map((k) => k.keyId)),
        }),
      )
      return { keys: plan.rows.length, diff: plan.diff, dryRun: false }
    })
  } catch (e) {
    throw storeError(e)
  } finally {
    db.prepare('DETACH DATABASE bak').run()
  }
}

import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { ConfigurationError, SigilError } from '@sigil/core'
import { checkOptions, optionNames, zodOptionsError } from '@sigil/core/internal'
import { z } from 'zod'
import { createBackedKeyStore, emitKeyChange, type KeyStoreMigrationReport, migrateKeyRows } from './backed-key-store.js'
import type { EncryptedKeyStore } from './key-store.js'
import { parseMasterKey } from './master-key.js'
import { checkMasterKeys } from './master-key-check.js'
import { recordMac } from './record-mac.js'
import { restoredKeyIds } from './restore-plan.js'
import {
  authenticateSqliteLegacyRows,
  saveSqliteMasterKeyChecks,
  sqliteBackend,
  sqliteMasterKeyEvidence,
  storeError,
} from './sqlite-backend.js'
import { openSqliteDatabase, type SqliteDatabase, type SqliteDriverName } from './sqlite-driver.js'
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js'
import { type RestoreOptions, type RestoreResult, restoreSqlite } from './sqlite-restore.js'
import { defaultActor, type StoreOptions, storeOptionsOf, storeOptionsSchema } from './store-options.js'

/** Options of {@link createSqliteKeyStore}. */

const RESTORE_OPTION_NAMES = optionNames<RestoreOptions>({ replace: true, resurrect: true, dryRun: true, actor: true })
export interface SqliteKeyStoreOptions extends StoreOptions {
  /** Database file (created mode 0600, its directory 0700) or `:memory:`. */
  path?: string
  /** An open connection from `openSqliteDatabase` instead of `path`; `close()` closes it. */
  database?: SqliteDatabase
  /**
   * SQLite engine; default `SIGIL_SQLITE_DRIVER`, else the first available of `node:sqlite`
   * (Node ≥ 22.13), `better-sqlite3`, `wasm` (node-sqlite3-wasm: exclusive, one process at a time).
   */
  driver?: SqliteDriverName
  /** Table name. Default `sigil_keys`. */
  table?: string
  /** How long a write waits for another process's write lock before `STORE_UNAVAILABLE`. Default 5000 ms. */
  busyTimeoutMs?: number
}

/** The embedded store, with online backup and restore. */
export interface SqliteKeyStore extends EncryptedKeyStore {
  /**
   * Write a consistent copy of the store to `file` (`VACUUM INTO`, safe while other processes
   * write), mode 0600. Secrets stay encrypted; the master-key check values travel with them.
   * `file` must not exist.
   */
  backup(file: string): Promise<void>
  /**
   * Replace every key with those of a backup, in one transaction. Refused, before anything is
   * written, unless the backup's master-key check values open under this store's master key and
   * every row passes its record MAC (a backup edited without the master key is refused, naming
   * the key ids); with keys already in the store, refused unless `replace` is true. An ending
   * recorded in the store after the backup (revocation, rotation, earlier expiry) is kept on the
   * restored key unless `resurrect` names it; `dryRun` returns the diff and writes nothing. Every
   * key the restore touched is announced to `onChange` listeners (caches, fan-out).
   */
  restore(file: string, options?: RestoreOptions): Promise<RestoreResult>
}

const LATEST = Math.max(...SQLITE_MIGRATIONS.map((m) => m.version))

/** The highest migration applied to a store's table, 0 for none. A read. */
function schemaVersion(db: SqliteDatabase, table: string): number {
  try {
    return Number(db.prepare(`SELECT max(version) AS v FROM "${table}_migrations"`).get()?.v ?? 0)
  } catch {
    return 0 // no migrations table yet
  }
}

function migrate(db: SqliteDatabase, table: string): void {
  // Up to date (every open after the first): a read, no write lock taken.
  if (schemaVersion(db, table) >= LATEST) return
  db.immediate(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS "${table}_migrations" (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)
    const done = new Set(
      db
        .prepare(`SELECT version FROM "${table}_migrations"`)
        .all()
        .map((r) => Number(r.version)),
    )
    for (const m of SQLITE_MIGRATIONS) {
      if (done.has(m.version)) continue
      db.exec(m.sql.replaceAll('{table}', table))
      db.prepare(`INSERT INTO "${table}_migrations" (version, applied_at) VALUES (?, ?)`).run(m.version, Date.now())
    }
  })
}

/** Create `path` (and its directories) owner-only before SQLite opens it; WAL files inherit the mode. */
function createPrivateFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  try {
    closeSync(openSync(path, 'wx', 0o600))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
  }
}

const schema = storeOptionsSchema.extend({
  path: z.string().min(1).optional(),
  database: z.unknown().optional(),
  driver: z.enum(['node:sqlite', 'better-sqlite3', 'wasm']).optional(),
  table: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/)
    .optional(),
  busyTimeoutMs: z.number().int().min(0).max(600_000).optional(),
})

/**
 * The embedded key store: SQLite, no server needed, on `node:sqlite`, better-sqlite3 or a WASM
 * build (see `driver`). Chosen as the CLI's and single-machine default because it opens in
 * ~0.2 s with µs lookups (PGlite: ~1 s to open, ~245 µs per lookup). Migrations apply
 * idempotently at open; WAL lets other processes read while one writes (native drivers; the
 * WASM driver holds the file alone and refuses while another process has it). Secrets are AES-256-GCM encrypted; `masterKey` is required, and a
 * master key that does not match the one the store was created with is refused at open.
 *
 * @example
 * ```ts
 * import { createSqliteKeyStore } from '@sigil/keys/sqlite'
 * const keys = createSqliteKeyStore({ path: '.sigil/keys.db', masterKey: process.env.SIGIL_MASTER_KEY })
 * ```
 */
export function createSqliteKeyStore(options: SqliteKeyStoreOptions): SqliteKeyStore {
  const parsed = schema.safeParse(options)
  if (!parsed.success) throw zodOptionsError('SQLite key store options', parsed.error, schema)
  if (!options.path && !options.database) throw new ConfigurationError('pass path or database')
  const table = options.table ?? 'sigil_keys'
  // Refuse before touching the disk: a store without a master key must not even create a file.
  const ring = parseMasterKey(options.masterKey)
  let db: SqliteDatabase
  try {
    if (options.database) db = options.database
    else {
      const path = options.path as string
      if (path !== ':memory:') createPrivateFile(path)
      db = openSqliteDatabase(path, {
        ...(options.busyTimeoutMs !== undefined ? { busyTimeoutMs: options.busyTimeoutMs } : {}),
        ...(options.driver ? { driver: options.driver } : {}),
      })
    }
  } catch (e) {
    if (e instanceof ConfigurationError) throw e
    const busy = (e as { code?: unknown }).code === 'SQLITE_BUSY'
    throw new SigilError(
      'STORE_UNAVAILABLE',
      busy ? `SQLite key store unavailable (SQLITE_BUSY: ${(e as Error).message})` : 'cannot open the SQLite key store',
      { cause: e },
    )
  }
  try {
    migrate(db, table)
    // Read the check values and record new ones in one write transaction: two processes opening
    // with different keys for a new version cannot both get theirs accepted.
    // Usually every version has its check value already: then a read, no write lock taken.
    const check = () => checkMasterKeys(ring, sqliteMasterKeyEvidence(db, 'main', table))
    if (check().length > 0) db.immediate(() => saveSqliteMasterKeyChecks(db, table, check()))
    // Once after the upgrade that added record MACs: the rows of the previous release get theirs.
    authenticateSqliteLegacyRows(db, table, (row) => recordMac(ring, row))
    const store = createBackedKeyStore(sqliteBackend(db, table), { ...storeOptionsOf(options), masterKey: ring })
    const actor = options.actor ?? defaultActor()
    const clock = options.now ?? Date.now
    return Object.assign(store, {
      async backup(file: string) {
        if (existsSync(file)) throw new ConfigurationError('the backup file already exists; choose a new name')
        try {
          createPrivateFile(file)
          db.prepare('VACUUM INTO ?').run(file)
        } catch (e) {
          throw storeError(e)
        }
      },
      async restore(file: string, o: RestoreOptions = {}) {
        checkOptions('restore options', o, RESTORE_OPTION_NAMES)
        const at = new Date(clock())
        const r = restoreSqlite(db, table, ring, file, { ...o, actor: o.actor ?? actor, now: at })
        if (!r.dryRun) for (const keyId of restoredKeyIds(r.diff)) emitKeyChange(store, { type: 'updated', keyId, at })
        return r
      },
    })
  } catch (e) {
    if (!options.database && db.isOpen) db.close()
    throw storeError(e)
  }
}

/**
 * Bring an embedded store to this release: the schema migrations an open applies, then every row of
 * an older format rewritten in today's (see `migrateKeyRows`). With `dryRun`, the same runs on a
 * consistent copy (`VACUUM INTO` a private temporary file, removed after) and the store itself is
 * not written: the report says what a real run would change (`sigil keys migrate --check`).
 *
 * @example
 * ```ts
 * const report = await migrateSqliteKeyStore({ path: '.sigil/keys.db', masterKey, dryRun: true })
 * ```
 */
export async function migrateSqliteKeyStore(
  options: SqliteKeyStoreOptions & { dryRun?: boolean; path: string },
): Promise<KeyStoreMigrationReport> {
  const { dryRun, ...storeOptions } = options
  const table = options.table ?? 'sigil_keys'
  parseMasterKey(options.masterKey)
  let version = 0
  let path = options.path
  let scratch: string | undefined
  if (existsSync(options.path)) {
    const db = openSqliteDatabase(options.path, options.driver ? { driver: options.driver } : {})
    try {
      version = schemaVersion(db, table)
      if (dryRun) {
        scratch = mkdtempSync(join(tmpdir(), 'sigil-migrate-check-'))
        path = join(scratch, 'keys.db')
        createPrivateFile(path)
        db.prepare('VACUUM INTO ?').run(path)
      }
    } catch (e) {
      if (scratch) rmSync(scratch, { recursive: true, force: true })
      throw storeError(e)
    } finally {
      db.close()
    }
  } else if (dryRun) {
    return { schema: { version: 0, latest: LATEST, pending: [] }, rows: { dryRun: true, current: 0, converted: [], invalid: [] } }
  }
  try {
    const store = createSqliteKeyStore({ ...storeOptions, path })
    try {
      const rows = await migrateKeyRows(store, { dryRun: dryRun === true })
      const pending = SQLITE_MIGRATIONS.filter((m) => m.version > version).map((m) => m.version)
      return { schema: { version, latest: LATEST, pending }, rows }
    } finally {
      await store.close()
    }
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true })
  }
}

export type { KeyRowMigration, KeyStoreMigrationReport } from './backed-key-store.js'
export type { EncryptedKeyStore } from './key-store.js'
export type { KeyEnding, RestoreDiff } from './restore-plan.js'
export {
  type OpenSqliteOptions,
  openSqliteDatabase,
  resolveSqliteDriver,
  SQLITE_DRIVERS,
  type SqliteDatabase,
  SqliteDriverError,
  type SqliteDriverName,
  type SqliteRow,
  type SqliteStatement,
  type SqliteValue,
} from './sqlite-driver.js'
export type { RestoreOptions, RestoreResult } from './sqlite-restore.js'

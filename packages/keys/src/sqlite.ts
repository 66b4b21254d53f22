import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import { ConfigurationError, SigilError } from '@sigil/core'
import { zodOptionsError } from '@sigil/core/internal'
import { z } from 'zod'
import { createBackedKeyStore } from './backed-key-store.js'
import type { EncryptedKeyStore } from './key-store.js'
import { parseMasterKey } from './master-key.js'
import { checkMasterKeys } from './master-key-check.js'
import { SQLITE_COLUMNS, saveSqliteMasterKeyChecks, sqliteBackend, sqliteMasterKeyEvidence, storeError } from './sqlite-backend.js'
import { openSqliteDatabase, type SqliteDatabase, type SqliteDriverName } from './sqlite-driver.js'
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js'
import { type StoreOptions, storeOptionsOf, storeOptionsSchema } from './store-options.js'

/** Options of {@link createSqliteKeyStore}. */
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
   * Replace every key with those of a backup, in one transaction. Refused unless the backup's
   * master-key check values open under this store's master key; with keys already in the store,
   * refused unless `replace` is true. Resolves to the number of keys restored.
   */
  restore(file: string, options?: { replace?: boolean }): Promise<{ keys: number }>
}

function migrate(db: SqliteDatabase, table: string): void {
  const latest = Math.max(...SQLITE_MIGRATIONS.map((m) => m.version))
  const applied = () => {
    try {
      return Number(db.prepare(`SELECT max(version) AS v FROM "${table}_migrations"`).get()?.v ?? 0)
    } catch {
      return 0 // no migrations table yet
    }
  }
  // Up to date (every open after the first): a read, no write lock taken.
  if (applied() >= latest) return
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
    const store = createBackedKeyStore(sqliteBackend(db, table), { ...storeOptionsOf(options), masterKey: ring })
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
      async restore(file: string, o: { replace?: boolean } = {}) {
        return restoreInto(db, table, ring, file, o.replace ?? false)
      },
    })
  } catch (e) {
    if (!options.database && db.isOpen) db.close()
    throw storeError(e)
  }
}

function restoreInto(
  db: SqliteDatabase,
  table: string,
  ring: ReturnType<typeof parseMasterKey>,
  file: string,
  replace: boolean,
): { keys: number } {
  if (!existsSync(file)) throw new ConfigurationError('no backup file at that path')
  let bak: SqliteDatabase
  try {
    bak = openSqliteDatabase(file, { readonly: true, fileMustExist: true, driver: db.driver })
  } catch (e) {
    throw new ConfigurationError('the backup file is not a SQLite database', { cause: e })
  }
  try {
    const ok = bak.prepare('PRAGMA integrity_check').get()?.integrity_check
    if (ok !== 'ok') throw new ConfigurationError('the backup file failed SQLite integrity_check')
    const latest = Math.max(...SQLITE_MIGRATIONS.map((m) => m.version))
    const has = bak.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?`)
    if (!has.get(table) || !has.get(`${table}_master_keys`))
      throw new ConfigurationError(`the backup file has no ${table} store of this Sigil version`)
    const version = Number(bak.prepare(`SELECT max(version) AS v FROM "${table}_migrations"`).get()?.v)
    if (version !== latest) throw new ConfigurationError(`the backup file is at schema version ${version}, this store at ${latest}`)
    // The backup's secrets must open under this master key, or restoring would lose them.
    checkMasterKeys(ring, sqliteMasterKeyEvidence(bak, 'main', table))
  } catch (e) {
    throw storeError(e)
  } finally {
    bak.close()
  }
  try {
    db.prepare('ATTACH DATABASE ? AS bak').run(file)
  } catch (e) {
    throw storeError(e)
  }
  try {
    return db.immediate(() => {
      const existing = Number(db.prepare(`SELECT count(*) AS n FROM main."${table}"`).get()?.n)
      if (existing > 0 && !replace) {
        throw new ConfigurationError(`this store already holds ${existing} key(s); restoring replaces them all (pass replace / --force)`)
      }
      db.prepare(`DELETE FROM main."${table}"`).run()
      const n = db.prepare(`INSERT INTO main."${table}" (${SQLITE_COLUMNS}) SELECT ${SQLITE_COLUMNS} FROM bak."${table}"`).run().changes
      db.prepare(`INSERT OR REPLACE INTO main."${table}_master_keys" SELECT * FROM bak."${table}_master_keys"`).run()
      return { keys: n }
    })
  } catch (e) {
    throw storeError(e)
  } finally {
    db.prepare('DETACH DATABASE bak').run()
  }
}

export type { EncryptedKeyStore } from './key-store.js'
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

import { createRequire } from 'node:module'
import { resolve as resolvePath } from 'node:path'
import { ConfigurationError } from '@sigil/core'
import { SqliteDriverError, wrapError } from './sqlite-errors.js'
import { claimWasmLock, refuseIfNativeHolds, type WasmLock, waitWhileWasmHolds, wasmLockHolder } from './sqlite-wasm-lock.js'

export { SqliteDriverError } from './sqlite-errors.js'

/**
 * The SQLite engines the embedded store runs on, in the order {@link openSqliteDatabase} tries
 * them: `node:sqlite` (built into Node ≥ 22.13), `better-sqlite3` (native; an optional peer), and
 * `wasm` (`node-sqlite3-wasm`, nothing to compile; one process at a time, see the README).
 */
export type SqliteDriverName = 'node:sqlite' | 'better-sqlite3' | 'wasm'

/** Every driver, in the order they are tried. */
export const SQLITE_DRIVERS: readonly SqliteDriverName[] = ['node:sqlite', 'better-sqlite3', 'wasm']

/** A value bound to a statement: Buffers for blobs (every driver takes them). */
export type SqliteValue = string | number | bigint | Uint8Array | null

/** A result row; blobs come back as `Uint8Array` (a `Buffer` under better-sqlite3). */
export type SqliteRow = Record<string, unknown>

/** A prepared statement, positional `?` parameters only. */
export interface SqliteStatement {
  run(...params: SqliteValue[]): { changes: number }
  get(...params: SqliteValue[]): SqliteRow | undefined
  all(...params: SqliteValue[]): SqliteRow[]
}

/** One connection, the same shape on every driver. Errors carry `code: 'SQLITE_…'`. */
export interface SqliteDatabase {
  readonly driver: SqliteDriverName
  readonly isOpen: boolean
  exec(sql: string): void
  prepare(sql: string): SqliteStatement
  /** `fn` inside `BEGIN IMMEDIATE … COMMIT`, rolled back if it throws. */
  immediate<T>(fn: () => T): T
  close(): void
}

/** Options of {@link openSqliteDatabase}. */
export interface OpenSqliteOptions {
  /** Open read-only (no WAL switch, nothing written). */
  readonly?: boolean
  /** Fail instead of creating a missing file. */
  fileMustExist?: boolean
  /** How long to wait for another process's lock. Default 5000 ms. */
  busyTimeoutMs?: number
  /** Use this driver, or fail; default: `SIGIL_SQLITE_DRIVER`, else the first that loads. */
  driver?: SqliteDriverName
}

function guarded<A extends unknown[], R>(driver: SqliteDriverName, fn: (...a: A) => R): (...a: A) => R {
  return (...a) => {
    try {
      return fn(...a)
    } catch (e) {
      throw wrapError(driver, e)
    }
  }
}

/** What each driver module provides, reduced to the calls the store makes. */
interface RawStatement {
  run(...p: unknown[]): { changes: number | bigint }
  get(...p: unknown[]): unknown
  all(...p: unknown[]): unknown[]
  finalize?(): void
}
interface RawDatabase {
  exec(sql: string): unknown
  prepare(sql: string): RawStatement
  close(): unknown
}

type Loaded = { name: SqliteDriverName; open(path: string, o: OpenSqliteOptions): RawDatabase }

// Resolve optional peers from this package (a CommonJS require works from ESM and CJS builds).
const requireHere = createRequire(import.meta.url)

function loadNodeSqlite(): Loaded | undefined {
  // Node < 22.13 has no unflagged node:sqlite; getBuiltinModule answers undefined there. Its
  // one-time ExperimentalWarning is not the user's business: drop that one warning only.
  const emit = process.emitWarning
  let mod: { DatabaseSync: new (path: string, o?: object) => RawDatabase } | undefined
  process.emitWarning = ((w: string | Error, ...rest: unknown[]) => {
    if (!/SQLite is an experimental feature/.test(String((w as Error)?.message ?? w)))
      (emit as (...a: unknown[]) => void).call(process, w, ...rest)
  }) as typeof process.emitWarning
  try {
    mod = process.getBuiltinModule?.('node:sqlite') as typeof mod
  } catch {
    mod = undefined
  } finally {
    process.emitWarning = emit
  }
  const DatabaseSync = mod?.DatabaseSync
  if (!DatabaseSync) return undefined
  return { name: 'node:sqlite', open: (path, o) => new DatabaseSync(path, { readOnly: !!o.readonly }) }
}

function loadBetterSqlite3(): Loaded | undefined {
  let Database: new (path: string, o?: object) => RawDatabase
  try {
    Database = requireHere('better-sqlite3')
    // The binding loads lazily: open once so a package without its compiled addon counts as absent.
    new Database(':memory:').close()
  } catch {
    return undefined
  }
  return { name: 'better-sqlite3', open: (path, o) => new Database(path, { readonly: !!o.readonly, fileMustExist: !!o.fileMustExist }) }
}

function loadWasm(): Loaded | undefined {
  let mod: { Database: new (path: string, o?: object) => RawDatabase }
  try {
    mod = requireHere('node-sqlite3-wasm')
  } catch {
    return undefined
  }
  return { name: 'wasm', open: (path, o) => new mod.Database(path, { readOnly: !!o.readonly, fileMustExist: !!o.fileMustExist }) }
}

const LOADERS: Record<SqliteDriverName, () => Loaded | undefined> = {
  'node:sqlite': loadNodeSqlite,
  'better-sqlite3': loadBetterSqlite3,
  wasm: loadWasm,
}
const loaded = new Map<SqliteDriverName, Loaded | undefined>()
function load(name: SqliteDriverName): Loaded | undefined {
  if (!loaded.has(name)) loaded.set(name, LOADERS[name]())
  return loaded.get(name)
}

const INSTALL_HINT =
  'run on Node ≥ 22.13 (node:sqlite), or install better-sqlite3 (native) or node-sqlite3-wasm (no compiler needed; one process at a time)'

/** The driver that {@link openSqliteDatabase} would use with these options. */
export function resolveSqliteDriver(preferred?: SqliteDriverName): SqliteDriverName {
  const wanted = preferred ?? (process.env.SIGIL_SQLITE_DRIVER as SqliteDriverName | undefined) ?? undefined
  if (wanted !== undefined && wanted !== ('' as SqliteDriverName)) {
    if (!SQLITE_DRIVERS.includes(wanted)) {
      throw new ConfigurationError(`unknown SQLite driver "${wanted}": one of ${SQLITE_DRIVERS.join(', ')}`)
    }
    if (!load(wanted)) throw new ConfigurationError(`SQLite driver ${wanted} is not available here; ${INSTALL_HINT}`)
    return wanted
  }
  const found = SQLITE_DRIVERS.find((d) => load(d))
  if (!found) throw new ConfigurationError(`no SQLite driver: ${INSTALL_HINT}`)
  return found
}

/**
 * Open a SQLite file on the first driver available (see {@link SqliteDriverName}). A writable file
 * database gets `busy_timeout` and WAL. On `wasm`, which cannot take the POSIX locks native SQLite
 * uses, the connection is exclusive (`locking_mode = EXCLUSIVE`) and refuses with `SQLITE_BUSY`
 * while any other process has the file open; native opens wait for a `wasm` holder to leave.
 *
 * @example
 * ```ts
 * const db = openSqliteDatabase('.sigil/audit.db')
 * db.prepare('SELECT 1 AS one').get() // { one: 1 }
 * db.close()
 * ```
 */
export function openSqliteDatabase(path: string, options: OpenSqliteOptions = {}): SqliteDatabase {
  const driver = load(resolveSqliteDriver(options.driver)) as Loaded
  const name = driver.name
  const conn = connect(driver, path, options)
  const raw = conn.raw
  const statements = new Set<RawStatement>()
  let open = true
  const exec = guarded(name, (sql: string) => void raw.exec(sql))
  const close = () => {
    if (!open) return
    open = false
    for (const s of statements) finalize(s)
    statements.clear()
    conn.release()
  }
  return {
    driver: name,
    get isOpen() {
      return open
    },
    exec,
    prepare: guarded(name, (sql: string): SqliteStatement => {
      let s: RawStatement | undefined = raw.prepare(sql)
      if (s.finalize) statements.add(s)
      // node-sqlite3-wasm must finalize its statements, and one whose last step failed refuses its
      // next use ("Could not reset statement"): drop it then and prepare it afresh when used again.
      const call = <R>(fn: (st: RawStatement) => R): R => {
        try {
          // Prepared afresh inside the try: its failure (a dropped table) is a driver error too.
          if (!s) {
            s = raw.prepare(sql)
            statements.add(s)
          }
          return fn(s)
        } catch (e) {
          if (s?.finalize) {
            statements.delete(s)
            finalize(s)
            s = undefined
          }
          throw wrapError(name, e)
        }
      }
      return {
        run: (...p: SqliteValue[]) => call((st) => ({ changes: Number(st.run(...spread(p)).changes) })),
        // node-sqlite3-wasm's get() leaves its statement mid-step (a read still open): read all.
        get: (...p: SqliteValue[]) =>
          call((st) => (name === 'wasm' ? st.all(...spread(p))[0] : (st.get(...spread(p)) ?? undefined)) as SqliteRow | undefined),
        all: (...p: SqliteValue[]) => call((st) => st.all(...spread(p)) as SqliteRow[]),
      }
    }),
    immediate<T>(fn: () => T): T {
      exec('BEGIN IMMEDIATE')
      try {
        const r = fn()
        exec('COMMIT')
        return r
      } catch (e) {
        try {
          exec('ROLLBACK')
        } catch {}
        throw e
      }
    },
    close,
  }

  // node-sqlite3-wasm takes its parameters as one array; the native drivers as arguments.
  function spread(p: SqliteValue[]): unknown[] {
    return name === 'wasm' ? [p] : p
  }
}

/** Finalize a wasm statement; its return code repeats the statement's last error, already reported. */
function finalize(s: RawStatement): void {
  try {
    s.finalize?.()
  } catch {}
}

interface Connection {
  raw: RawDatabase
  release(): void
}

// One wasm connection per file and process, shared by every handle that opens it: the wasm
// connection is exclusive, so a second one in the same process would wait on the first.
const wasmConnections = new Map<string, Connection & { refs: number }>()

function connect(driver: Loaded, path: string, options: OpenSqliteOptions): Connection {
  const name = driver.name
  const file = path !== ':memory:' && path !== ''
  const key = resolvePath(path)
  const shared = name === 'wasm' && file ? wasmConnections.get(key) : undefined
  if (shared) {
    shared.refs++
    return shared
  }
  const busy = options.busyTimeoutMs ?? 5000
  const raw = guarded(name, () => driver.open(path, options))()
  const exec = (sql: string) => raw.exec(sql)
  let lock: WasmLock | undefined
  const conn = {
    raw,
    refs: 1,
    release() {
      if (--conn.refs > 0) return
      wasmConnections.delete(key)
      try {
        lock?.releaseOwner()
        raw.close()
      } catch (e) {
        throw wrapError(name, e)
      }
    },
  }
  try {
    exec(`PRAGMA busy_timeout = ${Math.trunc(busy)}`)
    if (name === 'wasm' && file) {
      // No shared memory and no POSIX locks from WebAssembly: hold the file alone, so WAL works
      // (its index in this process's memory) and no reader sees a half-written page.
      exec('PRAGMA locking_mode = EXCLUSIVE')
      // Before the first read, so a refused connection has read nothing: closing one that had
      // would checkpoint and delete the native holder's WAL (its server then answers 503).
      refuseIfNativeHolds(path)
      lock = claimWasmLock(path)
    } else if (file) {
      // Likewise a native connection waits for (or is refused by) a wasm holder before it reads:
      // its close would otherwise checkpoint the holder's WAL and delete it under the holder.
      waitWhileWasmHolds(path, busy)
    }
    if (file && !options.readonly) exec('PRAGMA journal_mode = WAL')
    // A first read: SQLite now holds its locks (wasm: the lock directory; native: the WAL index).
    if (file) exec('SELECT count(*) FROM sqlite_master')
    if (lock) lock.confirm()
    else if (file) waitWhileWasmHolds(path, busy)
  } catch (e) {
    try {
      conn.release()
    } catch {}
    const err = wrapError(name, e)
    const holder = lock && (err as { code?: unknown }).code === 'SQLITE_BUSY' ? wasmLockHolder(path) : undefined
    if (holder === undefined) throw err
    // SQLite only says "database is locked": name who holds it, and why a wasm holder excludes us.
    throw new SqliteDriverError(
      'SQLITE_BUSY',
      `${path} is held by process ${holder} through the wasm SQLite driver, which needs it alone`,
      { cause: e },
    )
  }
  if (name === 'wasm' && file) wasmConnections.set(key, conn)
  return conn
}

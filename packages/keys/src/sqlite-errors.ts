import type { SqliteDriverName } from './sqlite-driver.js'

/** A SQLite failure with its result-code name (`SQLITE_BUSY`, `SQLITE_CONSTRAINT_…`) on every driver. */
export class SqliteDriverError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'SqliteDriverError'
    this.code = code
  }
}

// Primary result codes (sqlite3.h), for node:sqlite which reports the number (`errcode`).
// biome-ignore format: a table
const PRIMARY = [
  'OK', 'ERROR', 'INTERNAL', 'PERM', 'ABORT', 'BUSY', 'LOCKED', 'NOMEM', 'READONLY', 'INTERRUPT', 'IOERR',
  'CORRUPT', 'NOTFOUND', 'FULL', 'CANTOPEN', 'PROTOCOL', 'EMPTY', 'SCHEMA', 'TOOBIG', 'CONSTRAINT', 'MISMATCH',
  'MISUSE', 'NOLFS', 'AUTH', 'FORMAT', 'RANGE', 'NOTADB',
]

// node-sqlite3-wasm reports only sqlite3_errmsg(): SQLite's fixed English text for each code.
const WASM_MESSAGES: Array<[RegExp, string]> = [
  [/constraint failed/, 'SQLITE_CONSTRAINT'],
  [/^database is locked/, 'SQLITE_BUSY'],
  [/^database table is locked/, 'SQLITE_LOCKED'],
  [/readonly database/, 'SQLITE_READONLY'],
  [/disk I\/O error/, 'SQLITE_IOERR'],
  [/malformed/, 'SQLITE_CORRUPT'],
  [/database or disk is full/, 'SQLITE_FULL'],
  [/unable to open|Could not open/, 'SQLITE_CANTOPEN'],
  [/file is not a database/, 'SQLITE_NOTADB'],
]

function codeOf(driver: SqliteDriverName, e: unknown): string | undefined {
  const err = e as { code?: unknown; errcode?: unknown; message?: unknown }
  if (driver === 'better-sqlite3') return typeof err?.code === 'string' && err.code.startsWith('SQLITE_') ? err.code : undefined
  if (driver === 'node:sqlite') {
    if (typeof err?.errcode !== 'number') return undefined
    const name = PRIMARY[err.errcode & 0xff] ?? 'ERROR'
    return `SQLITE_${name}`
  }
  if ((e as Error)?.name !== 'SQLite3Error') return undefined
  const message = String(err.message)
  return WASM_MESSAGES.find(([re]) => re.test(message))?.[1] ?? 'SQLITE_ERROR'
}

export function wrapError(driver: SqliteDriverName, e: unknown): unknown {
  if (e instanceof SqliteDriverError) return e
  const code = codeOf(driver, e)
  return code ? new SqliteDriverError(code, (e as Error).message, { cause: e }) : e
}

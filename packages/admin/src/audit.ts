import { chmodSync, closeSync, openSync } from 'node:fs'
import { checkOptions } from '@sigil/core/internal'
/** One change: who did what to which key, when. Never a secret. */
export interface AuditEvent {
  id: number
  at: Date
  /**
   * `key:<keyId>` (an API client), `operator:<name>`, `partner:<principal>` (a dashboard session),
   * `cli:<user>@<host>` (the `sigil` command), `process:<user>@<host>` (a library call).
   */
  actor: string
  action: 'key.create' | 'key.update' | 'key.rotate' | 'key.revoke' | 'key.restore' | 'partner.invite' | 'session.login'
  keyId?: string
  principal?: string
  detail?: Record<string, unknown>
}

/** Where the audit log lives. Appends are awaited before the change is answered. */
export interface AuditLog {
  /**
   * True when the key store writes key changes itself, in the transaction of each change (the
   * store's outbox, `storeAuditLog`): the portal then appends only events that are no key change.
   */
  readonly recordsKeyChanges?: boolean
  append(event: Omit<AuditEvent, 'id' | 'at'> & { at?: Date }): Promise<AuditEvent>
  /** Newest first; `before` is the id to continue after (cursor pagination). */
  list(o?: { limit?: number; before?: number; principal?: string }): Promise<AuditEvent[]>
  close(): Promise<void>
}

/** An in-memory audit log (tests, demos): gone with the process. */
export function createMemoryAuditLog(): AuditLog {
  const events: AuditEvent[] = []
  return {
    async append(e) {
      const event: AuditEvent = { ...e, id: events.length + 1, at: e.at ?? new Date() }
      events.push(event)
      return event
    },
    async list(o = {}) {
      const limit = o.limit ?? 50
      const out: AuditEvent[] = []
      for (let i = events.length - 1; i >= 0 && out.length < limit; i--) {
        const e = events[i] as AuditEvent
        if (o.before !== undefined && e.id >= o.before) continue
        if (o.principal !== undefined && e.principal !== o.principal) continue
        out.push(e)
      }
      return out
    },
    async close() {},
  }
}

type Row = {
  id: number | string
  at: number | string
  actor: string
  action: string
  key_id: string | null
  principal: string | null
  detail: string | null
}

const fromRow = (r: Row): AuditEvent => ({
  id: Number(r.id),
  at: new Date(Number(r.at)),
  actor: r.actor,
  action: r.action as AuditEvent['action'],
  ...(r.key_id ? { keyId: r.key_id } : {}),
  ...(r.principal ? { principal: r.principal } : {}),
  ...(r.detail ? { detail: JSON.parse(r.detail) } : {}),
})

const CREATE = (table: string) => `CREATE TABLE IF NOT EXISTS ${table} (
  id INTEGER PRIMARY KEY GENERATED,
  at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  key_id TEXT, principal TEXT, detail TEXT)`

/**
 * Create `path` owner-only (0600) before SQLite opens it, so its -wal and -shm files (which SQLite
 * creates with the database file's mode) are 0600 too; tighten files an older release left 0644.
 */
function privateFile(path: string): void {
  if (path === ':memory:') return
  try {
    closeSync(openSync(path, 'wx', 0o600))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
  }
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      chmodSync(f, 0o600)
    } catch {
      // -wal/-shm exist only while the database is open somewhere
    }
  }
}

/**
 * The audit log in a SQLite file (the embedded default sits beside `keys.db`), on the key store's
 * SQLite driver (`openSqliteDatabase` from `@sigil/keys/sqlite`: node:sqlite, better-sqlite3 or wasm).
 */
export async function createSqliteAuditLog(path: string): Promise<AuditLog> {
  const { openSqliteDatabase } = await import('@sigil/keys/sqlite')
  privateFile(path)
  const db = openSqliteDatabase(path)
  db.exec(CREATE('sigil_audit').replace('GENERATED', 'AUTOINCREMENT'))
  db.exec('CREATE INDEX IF NOT EXISTS sigil_audit_principal ON sigil_audit (principal, id)')
  const insert = db.prepare('INSERT INTO sigil_audit (at, actor, action, key_id, principal, detail) VALUES (?, ?, ?, ?, ?, ?) RETURNING *')
  return {
    async append(e) {
      const at = (e.at ?? new Date()).getTime()
      return fromRow(
        insert.get(
          at,
          e.actor,
          e.action,
          e.keyId ?? null,
          e.principal ?? null,
          e.detail ? JSON.stringify(e.detail) : null,
        ) as unknown as Row,
      )
    },
    async list(o = {}) {
      const where: string[] = []
      const args: Array<string | number> = []
      if (o.before !== undefined) {
        where.push('id < ?')
        args.push(o.before)
      }
      if (o.principal !== undefined) {
        where.push('principal = ?')
        args.push(o.principal)
      }
      const sql = `SELECT * FROM sigil_audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`
      return (db.prepare(sql).all(...args, Math.min(o.limit ?? 50, 500)) as unknown as Row[]).map(fromRow)
    },
    async close() {
      db.close()
    },
  }
}

/** The audit log in PostgreSQL, in the key store's schema (`sigil` by default). */
export async function createPostgresAuditLog(o: { connectionString: string; schema?: string }): Promise<AuditLog> {
  checkOptions('PostgreSQL audit log options', o, ['connectionString', 'schema'])
  const { default: pg } = await import('pg')
  const schema = o.schema ?? 'sigil'
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error('schema must be a lower-case SQL identifier')
  const table = `"${schema}".sigil_audit`
  const pool = new pg.Pool({ connectionString: o.connectionString, max: 4, connectionTimeoutMillis: 5000, statement_timeout: 5000 })
  pool.on('error', () => {})
  await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
  await pool.query(CREATE(table).replace('INTEGER PRIMARY KEY GENERATED', 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY'))
  await pool.query(`CREATE INDEX IF NOT EXISTS sigil_audit_principal ON ${table} (principal, id)`)
  return {
    async append(e) {
      const at = (e.at ?? new Date()).getTime()
      const r = await pool.query(
        `INSERT INTO ${table} (at, actor, action, key_id, principal, detail) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
        [at, e.actor, e.action, e.keyId ?? null, e.principal ?? null, e.detail ? JSON.stringify(e.detail) : null],
      )
      return fromRow(r.rows[0] as Row)
    },
    async list(q = {}) {
      const where: string[] = []
      const args: unknown[] = []
      if (q.before !== undefined) {
        args.push(q.before)
        where.push(`id < $${args.length}`)
      }
      if (q.principal !== undefined) {
        args.push(q.principal)
        where.push(`principal = $${args.length}`)
      }
      args.push(Math.min(q.limit ?? 50, 500))
      const r = await pool.query(
        `SELECT * FROM ${table} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${args.length}`,
        args,
      )
      return (r.rows as Row[]).map(fromRow)
    },
    async close() {
      await pool.end()
    },
  }
}

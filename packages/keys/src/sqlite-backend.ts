import { SigilError } from '@sigil/core'
import { type KeyBackend, type KeyCountLimit, PATCH_COLUMNS, type StoredKey, type StoredKeyPatch } from './key-backend.js'
import type { MasterKeyCheck, MasterKeyEvidence } from './master-key-check.js'
import type { SqliteDatabase, SqliteRow, SqliteStatement, SqliteValue } from './sqlite-driver.js'

type Row = SqliteRow

/** Columns of a key row, in insert order. */
export const SQLITE_COLUMNS =
  'key_id, principal, scopes, status, created_at, updated_at, expires_at, not_after, revoked_at, replaced_by, limits, metadata, secret_ciphertext, master_key_version, version, test'

const ms = (d: Date | undefined) => (d ? d.getTime() : null)
const date = (v: unknown) => (v === null || v === undefined ? undefined : new Date(Number(v)))
const json = (v: unknown) => (v === null || v === undefined ? undefined : JSON.parse(String(v)))
const JSON_COLUMNS = new Set(['scopes', 'limits', 'metadata'])

function fromRow(r: Row): StoredKey {
  const out: StoredKey = {
    keyId: r.key_id as string,
    principal: r.principal as string,
    scopes: JSON.parse(r.scopes as string),
    status: r.status as 'active' | 'revoked',
    createdAt: new Date(Number(r.created_at)),
    updatedAt: new Date(Number(r.updated_at)),
    version: Number(r.version ?? 0),
    sealed: { version: r.master_key_version as string, data: new Uint8Array(r.secret_ciphertext as Buffer) },
  }
  if (Number(r.test) === 1) out.test = true
  const opt = {
    expiresAt: date(r.expires_at),
    notAfter: date(r.not_after),
    revokedAt: date(r.revoked_at),
    replacedBy: (r.replaced_by as string | null) ?? undefined,
    rateLimits: json(r.limits),
    metadata: json(r.metadata),
  }
  for (const [k, v] of Object.entries(opt)) if (v !== undefined) (out as unknown as Row)[k] = v
  return out
}

function patchSql(patch: StoredKeyPatch): { sets: string; values: SqliteValue[] } {
  const cols: string[] = ['version = version + 1']
  const values: SqliteValue[] = []
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue
    const col = PATCH_COLUMNS[k] as string
    cols.push(`${col} = ?`)
    values.push(v === null ? null : v instanceof Date ? v.getTime() : JSON_COLUMNS.has(col) ? JSON.stringify(v) : (v as SqliteValue))
  }
  return { sets: cols.join(', '), values }
}

/**
 * Any SQLite failure but a constraint violation (a bug) means the store cannot serve now —
 * busy, locked, I/O, full, read-only, corrupt — and fails closed as `STORE_UNAVAILABLE`.
 */
export function storeError(e: unknown): unknown {
  const code = (e as { code?: unknown })?.code
  if (typeof code === 'string' && code.startsWith('SQLITE_') && !code.startsWith('SQLITE_CONSTRAINT')) {
    return new SigilError('STORE_UNAVAILABLE', `SQLite key store unavailable (${code})`, { cause: e })
  }
  return e
}

function mapped<A extends unknown[], R>(fn: (...a: A) => R): (...a: A) => Promise<R> {
  return async (...a) => {
    try {
      return fn(...a)
    } catch (e) {
      throw storeError(e)
    }
  }
}

// Each `?` here is the list query's instant (`now`), bound once per occurrence.
const LIVE = '(expires_at IS NULL OR expires_at > ?) AND (not_after IS NULL OR not_after > ?)'
const STATUS_SQL = {
  active: [`status = 'active' AND ${LIVE}`, 2],
  expired: [`status = 'active' AND NOT (${LIVE})`, 2],
  revoked: [`status = 'revoked'`, 0],
} as const

/** The {@link KeyBackend} of the SQLite store; statements are prepared once and reused. */
export function sqliteBackend(db: SqliteDatabase, table: string): KeyBackend {
  const t = `"${table}"`
  const statements = new Map<string, SqliteStatement>()
  const prepare = (sql: string) => {
    let s = statements.get(sql)
    if (!s) {
      s = db.prepare(sql)
      statements.set(sql, s)
    }
    return s
  }
  const q = {
    read: db.prepare(`SELECT * FROM ${t} WHERE key_id = ?`),
    insert: db.prepare(`INSERT INTO ${t} (${SQLITE_COLUMNS}) VALUES (${SQLITE_COLUMNS.split(',').fill('?').join(', ')})`),
    stale: db.prepare(
      `SELECT key_id, master_key_version, secret_ciphertext FROM ${t} WHERE master_key_version <> ? AND key_id > ? ORDER BY key_id LIMIT ?`,
    ),
    reseal: db.prepare(`UPDATE ${t} SET secret_ciphertext = ?, master_key_version = ? WHERE key_id = ? AND master_key_version = ?`),
    working: db.prepare(`SELECT count(*) AS n FROM ${t} WHERE principal = ? AND status = 'active' AND ${LIVE}`),
  }
  // Counted inside the write transaction (BEGIN IMMEDIATE holds the write lock): atomic across processes.
  const working = (l: KeyCountLimit) => Number(q.working.get(l.principal, l.now.getTime(), l.now.getTime())?.n ?? 0)
  const insert = (r: StoredKey) =>
    q.insert.run(
      r.keyId,
      r.principal,
      JSON.stringify(r.scopes),
      r.status,
      r.createdAt.getTime(),
      r.updatedAt.getTime(),
      ms(r.expiresAt),
      ms(r.notAfter),
      ms(r.revokedAt),
      r.replacedBy ?? null,
      r.rateLimits ? JSON.stringify(r.rateLimits) : null,
      r.metadata ? JSON.stringify(r.metadata) : null,
      Buffer.from(r.sealed.data),
      r.sealed.version,
      r.version,
      r.test ? 1 : 0,
    )
  const update = (keyId: string, patch: StoredKeyPatch, guard = '', guardValues: SqliteValue[] = []) => {
    const { sets, values } = patchSql(patch)
    return prepare(`UPDATE ${t} SET ${sets} WHERE key_id = ?${guard}`).run(...values, keyId, ...guardValues).changes > 0
  }
  const overLimit = Symbol('limit')
  const rotate = (keyId: string, patch: StoredKeyPatch, next: StoredKey, now: number, limit?: KeyCountLimit) => {
    try {
      return db.immediate(() => {
        const guard =
          " AND status = 'active' AND replaced_by IS NULL AND (expires_at IS NULL OR expires_at > ?) AND (not_after IS NULL OR not_after > ?)"
        if (!update(keyId, patch, guard, [now, now])) return false
        // The old key, patched, still counts while its grace lasts; over the limit undoes the patch.
        if (limit && working(limit) + 1 > limit.max) throw overLimit
        insert(next)
        return true
      })
    } catch (e) {
      if (e === overLimit) return 'limit' as const
      throw e
    }
  }
  const readSync = (keyId: string) => {
    try {
      const r = q.read.get(keyId) as Row | undefined
      return r && fromRow(r)
    } catch (e) {
      throw storeError(e)
    }
  }
  return {
    read: mapped(readSync),
    readSync,
    keyLimits: true,
    insert: mapped((row: StoredKey, limit?: KeyCountLimit) => {
      if (!limit) return void insert(row)
      return db.immediate(() => {
        if (working(limit) >= limit.max) return false
        insert(row)
        return true
      })
    }),
    update: mapped((keyId: string, patch: StoredKeyPatch, ifVersion?: number) => {
      const { sets, values } = patchSql(patch)
      const guard = ifVersion === undefined ? '' : ' AND version = ?'
      const r = prepare(`UPDATE ${t} SET ${sets} WHERE key_id = ?${guard} RETURNING *`).get(
        ...values,
        keyId,
        ...(ifVersion === undefined ? [] : [ifVersion]),
      ) as Row | undefined
      return r && fromRow(r)
    }),
    rotate: mapped((keyId: string, patch: StoredKeyPatch, next: StoredKey, now: Date, limit?: KeyCountLimit) =>
      rotate(keyId, patch, next, now.getTime(), limit),
    ),
    list: mapped((query) => {
      const where: string[] = []
      const params: SqliteValue[] = []
      if (query.principal !== undefined) {
        where.push('principal = ?')
        params.push(query.principal)
      }
      if (query.after !== undefined) {
        where.push('key_id > ?')
        params.push(query.after)
      }
      if (query.status !== undefined) {
        const [sql, nows] = STATUS_SQL[query.status]
        where.push(sql)
        for (let i = 0; i < nows; i++) params.push(query.now.getTime())
      }
      const sql = `SELECT * FROM ${t}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY key_id${query.limit ? ' LIMIT ?' : ''}`
      if (query.limit) params.push(query.limit)
      return prepare(sql)
        .all(...params)
        .map(fromRow)
    }),
    staleSecrets: mapped((version: string, limit: number, after?: string) =>
      (q.stale.all(version, after ?? '', limit) as Row[]).map((r) => ({
        keyId: r.key_id as string,
        sealed: { version: r.master_key_version as string, data: new Uint8Array(r.secret_ciphertext as Buffer) },
      })),
    ),
    replaceSecret: mapped((keyId: string, from: string, s) => q.reseal.run(Buffer.from(s.data), s.version, keyId, from).changes > 0),
    close: async () => {
      if (db.isOpen) db.close()
    },
  }
}

/** The master-key check values and one sample row per version, read synchronously at open. */
export function sqliteMasterKeyEvidence(db: SqliteDatabase, schemaName: string, table: string): MasterKeyEvidence {
  const s = `"${schemaName}"`
  const rows = db.prepare(`SELECT version, check_value FROM ${s}."${table}_master_keys"`).all() as Row[]
  const sample = db.prepare(`SELECT key_id, secret_ciphertext FROM ${s}."${table}" WHERE master_key_version = ? LIMIT 1`)
  return {
    checks: new Map(rows.map((r) => [r.version as string, new Uint8Array(r.check_value as Buffer)])),
    sample: (version) => {
      const r = sample.get(version) as Row | undefined
      return r && { keyId: r.key_id as string, sealed: { version, data: new Uint8Array(r.secret_ciphertext as Buffer) } }
    },
  }
}

/** Store the check values of master-key versions used for the first time. */
export function saveSqliteMasterKeyChecks(db: SqliteDatabase, table: string, checks: MasterKeyCheck[]): void {
  const ins = db.prepare(`INSERT OR IGNORE INTO "${table}_master_keys" (version, check_value, created_at) VALUES (?, ?, ?)`)
  for (const c of checks) ins.run(c.version, Buffer.from(c.data), Date.now())
}

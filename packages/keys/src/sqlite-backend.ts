import { SigilError } from '@sigil/core'
import {
  type KeyBackend,
  type KeyCountLimit,
  type KeyEvent,
  type NewKeyEvent,
  PATCH_COLUMNS,
  type SecretReplacement,
  type StoredKey,
  type StoredKeyPatch,
} from './key-backend.js'
import { expiredSql, LIVE_AT_PARAMS, liveSql } from './key-status-sql.js'
import type { MasterKeyCheck, MasterKeyEvidence } from './master-key-check.js'
import type { SessionBackend } from './session-store.js'
import type { SqliteDatabase, SqliteRow, SqliteStatement, SqliteValue } from './sqlite-driver.js'

type Row = SqliteRow

/** Columns of a key row, in insert order. */
export const SQLITE_COLUMNS =
  'key_id, principal, scopes, status, created_at, updated_at, expires_at, not_after, revoked_at, replaced_by, limits, metadata, secret_ciphertext, master_key_version, version, record_mac, test, format'

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
  if (r.record_mac !== null && r.record_mac !== undefined) out.mac = new Uint8Array(r.record_mac as Buffer)
  if (Number(r.test) === 1) out.test = true
  if (r.format !== null && r.format !== undefined) out.format = Number(r.format)
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

/** A row's values in {@link SQLITE_COLUMNS} order. */
export function sqliteRowValues(r: StoredKey): SqliteValue[] {
  return [
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
    r.mac ? Buffer.from(r.mac) : null,
    r.test ? 1 : 0,
    r.format ?? null,
  ]
}

/** `r` as the driver hands it back: column names as keys, blobs as Buffers, dates as numbers. */
function toRow(r: StoredKey): Row {
  const values = sqliteRowValues(r)
  const row: Row = {}
  SQLITE_COLUMNS.split(', ').forEach((c, i) => {
    row[c] = values[i]
  })
  return row
}

function patchSql(patch: StoredKeyPatch): { sets: string; values: SqliteValue[] } {
  const cols: string[] = ['version = version + 1']
  const values: SqliteValue[] = []
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue
    const col = PATCH_COLUMNS[k] as string
    cols.push(`${col} = ?`)
    values.push(
      v === null
        ? null
        : v instanceof Date
          ? v.getTime()
          : v instanceof Uint8Array
            ? Buffer.from(v)
            : JSON_COLUMNS.has(col)
              ? JSON.stringify(v)
              : (v as SqliteValue),
    )
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

/** An audit event as stored in `{table}_events`. */
export function eventFromRow(r: Row): KeyEvent {
  return {
    id: Number(r.id),
    at: new Date(Number(r.at)),
    actor: r.actor as string,
    action: r.action as string,
    ...(r.key_id ? { keyId: r.key_id as string } : {}),
    ...(r.principal ? { principal: r.principal as string } : {}),
    ...(r.detail ? { detail: JSON.parse(r.detail as string) } : {}),
  }
}

const STATUS_SQL = {
  active: [liveSql('?'), LIVE_AT_PARAMS],
  expired: [expiredSql('?'), LIVE_AT_PARAMS],
  revoked: [`status = 'revoked'`, 0],
} as const

/**
 * Sessions and spent one-time tokens in `{table}_sessions` and `{table}_spent_tokens`: one
 * statement each, so a spend is one unique insert (of two connections racing, one inserts and
 * the other sees the row, whichever process they are in).
 */
function sqliteSessions(db: SqliteDatabase, table: string): SessionBackend {
  const sessions = `"${table}_sessions"`
  const spent = `"${table}_spent_tokens"`
  let q:
    | {
        spend: SqliteStatement
        insert: SqliteStatement
        read: SqliteStatement
        remove: SqliteStatement
        sweepSessions: SqliteStatement
        sweepSpent: SqliteStatement
      }
    | undefined
  // Prepared on first use: a key store that serves no portal never prepares them.
  const s = () =>
    (q ??= {
      spend: db.prepare(`INSERT INTO ${spent} (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`),
      insert: db.prepare(`INSERT INTO ${sessions} (id, data, expires_at) VALUES (?, ?, ?)`),
      read: db.prepare(`SELECT data, expires_at FROM ${sessions} WHERE id = ? AND expires_at > ?`),
      remove: db.prepare(`DELETE FROM ${sessions} WHERE id = ?`),
      sweepSessions: db.prepare(`DELETE FROM ${sessions} WHERE expires_at <= ?`),
      sweepSpent: db.prepare(`DELETE FROM ${spent} WHERE expires_at <= ?`),
    })
  return {
    spend: mapped((id: string, expiresAt: Date) => s().spend.run(id, expiresAt.getTime()).changes === 1),
    insertSession: mapped((id: string, data: string, expiresAt: Date) => {
      s().insert.run(id, data, expiresAt.getTime())
    }),
    readSession: mapped((id: string, now: Date) => {
      const r = s().read.get(id, now.getTime()) as Row | undefined
      return r && { data: r.data as string, expiresAt: new Date(Number(r.expires_at)) }
    }),
    deleteSession: mapped((id: string) => {
      s().remove.run(id)
    }),
    sweep: mapped((now: Date) => s().sweepSessions.run(now.getTime()).changes + s().sweepSpent.run(now.getTime()).changes),
  }
}

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
    // A row whenever the table has one: the key's, or for an unknown id another key's (never
    // returned, see readSync), so a miss reads and converts a row as a hit does (opaque mode).
    read: db.prepare(`SELECT * FROM ${t} WHERE key_id = ? UNION ALL SELECT * FROM (SELECT * FROM ${t} LIMIT 1) LIMIT 1`),
    insert: db.prepare(`INSERT INTO ${t} (${SQLITE_COLUMNS}) VALUES (${SQLITE_COLUMNS.split(',').fill('?').join(', ')})`),
    stale: db.prepare(
      `SELECT key_id, master_key_version, secret_ciphertext FROM ${t} WHERE master_key_version <> ? AND key_id > ? ORDER BY key_id LIMIT ?`,
    ),
    reseal: db.prepare(
      `UPDATE ${t} SET secret_ciphertext = ?, master_key_version = ?, record_mac = ? WHERE key_id = ? AND master_key_version = ? AND (? IS NULL OR version = ?)`,
    ),
    event: db.prepare(`INSERT INTO "${table}_events" (at, actor, action, key_id, principal, detail) VALUES (?, ?, ?, ?, ?, ?) RETURNING *`),
    working: db.prepare(`SELECT count(*) AS n FROM ${t} WHERE principal = ? AND ${liveSql('?')}`),
  }
  const event = (e: NewKeyEvent) =>
    eventFromRow(
      q.event.get(
        e.at.getTime(),
        e.actor,
        e.action,
        e.keyId ?? null,
        e.principal ?? null,
        e.detail ? JSON.stringify(e.detail) : null,
      ) as Row,
    )
  // Counted inside the write transaction (BEGIN IMMEDIATE holds the write lock): atomic across processes.
  const working = (l: KeyCountLimit) => Number(q.working.get(l.principal, l.now.getTime(), l.now.getTime())?.n ?? 0)
  const insert = (r: StoredKey) => q.insert.run(...sqliteRowValues(r))
  const update = (keyId: string, patch: StoredKeyPatch, guard = '', guardValues: SqliteValue[] = []) => {
    const { sets, values } = patchSql(patch)
    return prepare(`UPDATE ${t} SET ${sets} WHERE key_id = ?${guard}`).run(...values, keyId, ...guardValues).changes > 0
  }
  const overLimit = Symbol('limit')
  const rotate = (
    keyId: string,
    patch: StoredKeyPatch,
    next: StoredKey,
    now: number,
    ifVersion?: number,
    e?: NewKeyEvent,
    limit?: KeyCountLimit,
  ) => {
    try {
      return db.immediate(() => {
        const guard = ` AND ${liveSql('?')} AND replaced_by IS NULL${ifVersion === undefined ? '' : ' AND version = ?'}`
        if (!update(keyId, patch, guard, ifVersion === undefined ? [now, now] : [now, now, ifVersion])) return false
        // The old key, patched, still counts while its grace lasts; over the limit undoes the patch.
        if (limit && working(limit) + 1 > limit.max) throw overLimit
        insert(next)
        if (e) event(e)
        return true
      })
    } catch (err) {
      if (err === overLimit) return 'limit' as const
      throw err
    }
  }
  const readSync = (keyId: string) => {
    try {
      const r = q.read.get(keyId) as Row | undefined
      // An unknown id: the store converts its decoy row instead (asRead), as this converts a row.
      return r !== undefined && r.key_id === keyId ? fromRow(r) : undefined
    } catch (e) {
      throw storeError(e)
    }
  }
  // Opaque mode: the store's decoy as a stored row (converted once), decoded per call by fromRow
  // like a found key's row — new small arrays for its blobs, not the decoy's long-lived ones.
  let decoy: { of: StoredKey; row: Row } | undefined
  const asRead = (row: StoredKey) => {
    if (decoy?.of !== row) decoy = { of: row, row: toRow(row) }
    return fromRow(decoy.row)
  }
  return {
    read: mapped(readSync),
    readSync,
    asRead,
    keyLimits: true,
    insert: mapped((row: StoredKey, e?: NewKeyEvent, limit?: KeyCountLimit) => {
      if (!e && !limit) return void insert(row)
      return db.immediate(() => {
        if (limit && working(limit) >= limit.max) return false
        insert(row)
        if (e) event(e)
        return true
      })
    }),
    update: mapped((keyId: string, patch: StoredKeyPatch, ifVersion?: number, e?: NewKeyEvent) => {
      const { sets, values } = patchSql(patch)
      const guard = ifVersion === undefined ? '' : ' AND version = ?'
      const run = () => {
        const r = prepare(`UPDATE ${t} SET ${sets} WHERE key_id = ?${guard} RETURNING *`).get(
          ...values,
          keyId,
          ...(ifVersion === undefined ? [] : [ifVersion]),
        ) as Row | undefined
        // The event commits with the change or not at all (the outbox): never one without the other.
        if (r && e) event(e)
        return r && fromRow(r)
      }
      return e ? db.immediate(run) : run()
    }),
    rotate: mapped(
      (keyId: string, patch: StoredKeyPatch, next: StoredKey, now: Date, ifVersion?: number, e?: NewKeyEvent, limit?: KeyCountLimit) =>
        rotate(keyId, patch, next, now.getTime(), ifVersion, e, limit),
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
    replaceSecret: mapped(
      (keyId: string, from: string, s, mac?: Uint8Array, ifVersion?: number) =>
        q.reseal.run(Buffer.from(s.data), s.version, mac ? Buffer.from(mac) : null, keyId, from, ifVersion ?? null, ifVersion ?? null)
          .changes > 0,
    ),
    staleRows: mapped((version: string, limit: number, after?: string) =>
      (
        prepare(`SELECT * FROM ${t} WHERE master_key_version <> ? AND key_id > ? ORDER BY key_id LIMIT ?`).all(
          version,
          after ?? '',
          limit,
        ) as Row[]
      ).map(fromRow),
    ),
    // One write transaction per batch; each row keeps its own guards (see replaceSecret).
    replaceSecrets: mapped((items: ReadonlyArray<SecretReplacement>) =>
      items.length === 0
        ? []
        : db.immediate(() =>
            items
              .filter(
                (i) =>
                  q.reseal.run(
                    Buffer.from(i.sealed.data),
                    i.sealed.version,
                    i.mac ? Buffer.from(i.mac) : null,
                    i.keyId,
                    i.fromVersion,
                    i.ifVersion ?? null,
                    i.ifVersion ?? null,
                  ).changes > 0,
              )
              .map((i) => i.keyId),
          ),
    ),
    countSecretVersions: mapped(
      () =>
        new Map(
          (prepare(`SELECT master_key_version AS v, count(*) AS n FROM ${t} GROUP BY master_key_version`).all() as Row[]).map((r) => [
            r.v as string,
            Number(r.n),
          ]),
        ),
    ),
    insertMany: mapped((items: ReadonlyArray<{ row: StoredKey; event?: NewKeyEvent }>) =>
      db.immediate(() => {
        for (const i of items) {
          insert(i.row)
          if (i.event) event(i.event)
        }
      }),
    ),
    appendEvent: mapped((e: NewKeyEvent) => event(e)),
    sessions: sqliteSessions(db, table),
    listEvents: mapped((query) => {
      const where: string[] = []
      const params: SqliteValue[] = []
      if (query.before !== undefined) {
        where.push('id < ?')
        params.push(query.before)
      }
      if (query.principal !== undefined) {
        where.push('principal = ?')
        params.push(query.principal)
      }
      const sql = `SELECT * FROM "${table}_events"${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`
      return (prepare(sql).all(...params, query.limit) as Row[]).map(eventFromRow)
    }),
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

/**
 * Once, after the migration that added record MACs: MAC every row written before it (the rows as
 * they are now are taken as authentic, as the previous release took them), then drop the marker,
 * in one write transaction. Only while no row has a MAC yet, so a marker put back later never
 * re-authenticates an authenticated table; afterwards a row without a MAC is refused, so removing
 * a MAC never turns a row back into an unchecked one. Returns the number of rows authenticated.
 */
export function authenticateSqliteLegacyRows(db: SqliteDatabase, table: string, mac: (row: StoredKey) => Uint8Array): number {
  const marker = `SELECT value FROM "${table}_meta" WHERE name = 'authenticate_legacy_rows'`
  if (!db.prepare(marker).get()) return 0
  return db.immediate(() => {
    if (!db.prepare(marker).get()) return 0
    // Only while no row has a MAC: a marker put back later never re-authenticates an authenticated table.
    const authenticated = db.prepare(`SELECT 1 AS x FROM "${table}" WHERE record_mac IS NOT NULL LIMIT 1`).get()
    const rows = authenticated ? [] : (db.prepare(`SELECT * FROM "${table}" WHERE record_mac IS NULL`).all() as Row[])
    const set = db.prepare(`UPDATE "${table}" SET record_mac = ? WHERE key_id = ? AND record_mac IS NULL`)
    for (const r of rows) {
      const row = fromRow(r)
      set.run(Buffer.from(mac(row)), row.keyId)
    }
    db.prepare(`DELETE FROM "${table}_meta" WHERE name = 'authenticate_legacy_rows'`).run()
    return rows.length
  })
}

/** Every row of a store's table, read straight (for restore's checks). */
export function sqliteRows(db: SqliteDatabase, schemaName: string, table: string): StoredKey[] {
  return (db.prepare(`SELECT * FROM "${schemaName}"."${table}" ORDER BY key_id`).all() as Row[]).map(fromRow)
}

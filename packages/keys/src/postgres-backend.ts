import { createHash } from 'node:crypto'
import { SigilError } from '@sigil/core'
import {
  type KeyBackend,
  type KeyCountLimit,
  type KeyEvent,
  type NewKeyEvent,
  PATCH_COLUMNS,
  type StoredKey,
  type StoredKeyPatch,
} from './key-backend.js'
import { expiredSql, liveSql } from './key-status-sql.js'
import type { MasterKeyRing } from './master-key.js'
import { checkMasterKeys } from './master-key-check.js'
import type { PgQueryClient } from './postgres.js'
import type { SessionBackend } from './session-store.js'

type Row = Record<string, unknown>

const COLUMNS = [
  'key_id',
  'principal',
  'scopes',
  'status',
  'created_at',
  'updated_at',
  'expires_at',
  'not_after',
  'revoked_at',
  'replaced_by',
  'limits',
  'metadata',
  'secret_ciphertext',
  'master_key_version',
  'version',
  'record_mac',
  'test',
  'format',
] as const
const JSONB = new Set(['scopes', 'limits', 'metadata'])
const bytes = (v: unknown) => (v instanceof Uint8Array ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(0))
// jsonb is cast from text so pg and PGlite (which serialize JSON parameters differently) agree.
const placeholder = (col: string, i: number) => (JSONB.has(col) ? `$${i}::text::jsonb` : `$${i}`)
const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v))

function values(r: StoredKey): unknown[] {
  return [
    r.keyId,
    r.principal,
    json(r.scopes),
    r.status,
    r.createdAt,
    r.updatedAt,
    r.expiresAt ?? null,
    r.notAfter ?? null,
    r.revokedAt ?? null,
    r.replacedBy ?? null,
    json(r.rateLimits),
    json(r.metadata),
    Buffer.from(r.sealed.data),
    r.sealed.version,
    r.version,
    r.mac ? Buffer.from(r.mac) : null,
    r.test === true,
    r.format ?? null,
  ]
}

function fromRow(r: Row): StoredKey {
  const out: StoredKey = {
    keyId: r.key_id as string,
    principal: r.principal as string,
    scopes: r.scopes as string[],
    status: r.status as 'active' | 'revoked',
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
    version: Number(r.version ?? 0),
    sealed: { version: r.master_key_version as string, data: bytes(r.secret_ciphertext) },
  }
  if (r.record_mac instanceof Uint8Array) out.mac = bytes(r.record_mac)
  if (r.test === true) out.test = true
  if (r.format !== null && r.format !== undefined) out.format = Number(r.format)
  const opt: Row = {
    expiresAt: r.expires_at,
    notAfter: r.not_after,
    revokedAt: r.revoked_at,
    replacedBy: r.replaced_by,
    rateLimits: r.limits,
    metadata: r.metadata,
  }
  for (const [k, v] of Object.entries(opt)) if (v !== null && v !== undefined) (out as unknown as Row)[k] = v
  return out
}

// The shape of a stored row (see fromRow), converted for an unknown id when the table is empty.
const DECOY_ROW: Row = {
  key_id: 'decoy',
  principal: 'decoy',
  scopes: ['decoy'],
  status: 'active',
  created_at: new Date(0),
  updated_at: new Date(0),
  expires_at: null,
  not_after: null,
  revoked_at: null,
  replaced_by: null,
  limits: null,
  metadata: null,
  secret_ciphertext: Buffer.alloc(60),
  master_key_version: 'v1',
  version: 0,
  record_mac: Buffer.alloc(32),
  test: false,
  format: 2,
}

function setClause(patch: StoredKeyPatch, first: number): { sql: string; params: unknown[] } {
  const sets: string[] = ['version = version + 1']
  const params: unknown[] = []
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue
    const col = PATCH_COLUMNS[k] as string
    params.push(v === null ? null : JSONB.has(col) ? json(v) : v instanceof Uint8Array ? Buffer.from(v) : v)
    sets.push(`${col} = ${placeholder(col, first + params.length - 1)}`)
  }
  return { sql: sets.join(', '), params }
}

/**
 * What the backend runs its statements on: a `PgQueryClient`, plus `prepared` for the
 * statements it repeats (the key lookup first). On a `pg.Pool` those are pg named statements —
 * parsed and planned once per connection, then only bound and executed; on any other client
 * `prepared` runs the text as `query` does.
 */
export interface StatementClient extends PgQueryClient {
  prepared(name: string, text: string, params: unknown[]): Promise<{ rows: unknown[] }>
  /** Run `fn` in one transaction on one connection (BEGIN … COMMIT; ROLLBACK when it throws). */
  transaction<T>(fn: (tx: PgQueryClient) => Promise<T>, timeoutMs?: number): Promise<T>
}

// Explicit columns, never `*`: a prepared statement's result shape is fixed when it is parsed, and
// a column added by a later migration must not change it under a running instance.
const SELECT = COLUMNS.join(', ')
/**
 * The name of a prepared statement: derived from its text, so two stores (another schema or table)
 * on one pool never give one name to two statements, which pg refuses.
 */
function statementName(text: string): string {
  return `sigil_keys_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`
}

// Distinct statement texts get a prepared statement each (on every connection that runs them):
// a few dozen in practice (list filters × update fields); past this many, the rest run unnamed.
const MAX_NAMED = 256

const eventFromRow = (r: Row): KeyEvent => ({
  id: Number(r.id),
  at: r.at as Date,
  actor: r.actor as string,
  action: r.action as string,
  ...(r.key_id ? { keyId: r.key_id as string } : {}),
  ...(r.principal ? { principal: r.principal as string } : {}),
  ...(r.detail ? { detail: r.detail as Record<string, unknown> } : {}),
})
const EVENT_COLUMNS = 'at, actor, action, key_id, principal, detail'
// Parameters of an event written with a change: key id and principal come from the changed row.
const eventParams = (e: NewKeyEvent) => [e.at, e.actor, e.action, json(e.detail)]

/**
 * A failed query as the store reports it: `STORE_UNAVAILABLE`, saying so when the database refused
 * a write because it is read-only (a hot standby, `default_transaction_read_only`: 25006) or the
 * role may not write (42501), so a write command against a replica fails with a cause to act on.
 */
export function queryError(e: unknown): SigilError {
  const code = (e as { code?: unknown } | undefined)?.code
  if (code === '25006' || code === '42501') {
    return new SigilError(
      'STORE_UNAVAILABLE',
      code === '25006'
        ? 'the PostgreSQL key store is read-only here (a hot standby, or default_transaction_read_only): changes to keys go to the primary'
        : 'the PostgreSQL role may not change the key store (read-only role): changes to keys need a role that may write',
      { cause: e },
    )
  }
  return new SigilError('STORE_UNAVAILABLE', 'key store query failed', { cause: e })
}

/**
 * The {@link KeyBackend} of the PostgreSQL store; every statement is single and atomic — a change
 * and its audit event (`events`, the quoted events table) are one statement (data-modifying CTEs).
 */
export function postgresBackend(
  client: StatementClient,
  table: string,
  close: () => Promise<void>,
  events?: string,
  sessions?: { sessions: string; spent: string },
): KeyBackend {
  const names = new Map<string, string>()
  const nameOf = (sql: string) => {
    let n = names.get(sql)
    if (n === undefined && names.size < MAX_NAMED) {
      n = statementName(sql)
      names.set(sql, n)
    }
    return n
  }
  // Every statement of the backend is prepared: parsed and planned once per connection.
  const q = async (sql: string, params: unknown[]): Promise<Row[]> => {
    const name = nameOf(sql)
    try {
      return (await (name === undefined ? client.query(sql, params) : client.prepared(name, sql, params))).rows as Row[]
    } catch (e) {
      throw queryError(e)
    }
  }
  // Opaque mode: a known and an unknown id run the same plan — the key's row by its index and one
  // other row, sorted, the first kept — and get one row back, converted either way (see read).
  const readSql = `SELECT ${SELECT} FROM (SELECT 0 AS sigil_o, ${SELECT} FROM ${table} WHERE key_id = $1 UNION ALL (SELECT 1, ${SELECT} FROM ${table} LIMIT 1)) AS r ORDER BY sigil_o LIMIT 1`
  const insertSql = (first: number) => `(${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c, i) => placeholder(c, first + i)).join(', ')})`
  const live = (i: number) => `${liveSql(`$${i}`)} AND replaced_by IS NULL`
  // A key count is checked in a transaction that first takes a per-principal advisory lock: every
  // limited write for that principal waits for the one before it to commit, and under READ
  // COMMITTED the count (a later statement) then sees it. One statement could not: its snapshot
  // predates the lock.
  const overLimit = Symbol('limit')
  // An event written inside a limited write's transaction: key id and principal are the row's ($5, $6).
  const eventInsertSql = `INSERT INTO ${events} (${EVENT_COLUMNS}) VALUES ($1, $2, $3, $5, $6, $4::text::jsonb)`
  // Working at $2: active, neither expired nor past a rotation grace (a replaced key in grace counts).
  const workingSql = `SELECT count(*) AS n FROM ${table} WHERE principal = $1 AND ${liveSql('$2')}`
  const limited = async <T>(limit: KeyCountLimit, fn: (tx: PgQueryClient, working: () => Promise<number>) => Promise<T>) => {
    try {
      return await client.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`sigil-keys-count:${table}:${limit.principal}`])
        const working = async () => {
          const { rows } = await tx.query(workingSql, [limit.principal, limit.now])
          return Number((rows[0] as Row | undefined)?.n ?? 0)
        }
        return fn(tx, working)
      })
    } catch (e) {
      if (e === overLimit) return 'limit' as const
      throw queryError(e)
    }
  }
  return {
    keyLimits: true,
    async read(keyId) {
      const [r] = await q(readSql, [keyId])
      if (r !== undefined && r.key_id === keyId) return fromRow(r)
      // An unknown id: the same conversion, on the other row (or a decoy in an empty table).
      fromRow(r ?? DECOY_ROW)
      return undefined
    },
    async insert(row, e, limit) {
      if (limit) {
        const r = await limited(limit, async (tx, working) => {
          if ((await working()) >= limit.max) return false
          await tx.query(`INSERT INTO ${table} ${insertSql(1)}`, values(row))
          // The event commits with the key in this transaction, or not at all (the outbox).
          if (e && events) await tx.query(eventInsertSql, [...eventParams(e), row.keyId, row.principal])
          return true
        })
        return r === true
      }
      if (!e || !events) {
        await q(`INSERT INTO ${table} ${insertSql(1)}`, values(row))
        return true
      }
      const n = COLUMNS.length
      await q(
        `WITH i AS (INSERT INTO ${table} ${insertSql(1)} RETURNING key_id, principal)
         INSERT INTO ${events} (${EVENT_COLUMNS}) SELECT $${n + 1}, $${n + 2}, $${n + 3}, key_id, principal, $${n + 4}::text::jsonb FROM i`,
        [...values(row), ...eventParams(e)],
      )
      return true
    },
    async update(keyId, patch, ifVersion, e) {
      // One statement: the row lock makes the version check and the write atomic, and the event
      // (a data-modifying CTE) commits with the change or not at all.
      const { sql, params } = setClause(patch, 3)
      const guard = ifVersion === undefined ? '' : ' AND version = $2'
      const upd = `UPDATE ${table} SET ${sql} WHERE key_id = $1${guard} RETURNING ${SELECT}`
      if (!e || !events) {
        const [r] = await q(upd, [keyId, ifVersion ?? null, ...params])
        return r && fromRow(r)
      }
      const k = 3 + params.length
      const [r] = await q(
        `WITH u AS (${upd}), e AS (INSERT INTO ${events} (${EVENT_COLUMNS}) SELECT $${k}, $${k + 1}, $${k + 2}, key_id, principal, $${k + 3}::text::jsonb FROM u)
         SELECT * FROM u`,
        [keyId, ifVersion ?? null, ...params, ...eventParams(e)],
      )
      return r && fromRow(r)
    },
    async rotate(keyId, patch, next, now, ifVersion, e, limit) {
      if (limit) {
        const { sql, params } = setClause(patch, 4)
        return limited(limit, async (tx, working) => {
          const old = await tx.query(
            `UPDATE ${table} SET ${sql} WHERE key_id = $1 AND ${live(2)} AND ($3::integer IS NULL OR version = $3) RETURNING key_id, principal`,
            [keyId, now, ifVersion ?? null, ...params],
          )
          const was = old.rows[0] as Row | undefined
          if (old.rows.length !== 1 || !was) return false
          // The old key, patched, counts while its grace lasts; over the limit rolls the patch back.
          if ((await working()) + 1 > limit.max) throw overLimit
          await tx.query(`INSERT INTO ${table} ${insertSql(1)}`, values(next))
          if (e && events) await tx.query(eventInsertSql, [...eventParams(e), was.key_id, was.principal])
          return true
        })
      }
      // One statement, so the old key's deadline, the new key and the event commit together or not at all.
      const { sql, params } = setClause(patch, 4)
      const first = 4 + params.length
      const k = first + COLUMNS.length
      const withEvent = e !== undefined && events !== undefined
      const rows = await q(
        `WITH old AS (UPDATE ${table} SET ${sql} WHERE key_id = $1 AND ${live(2)} AND ($3::integer IS NULL OR version = $3) RETURNING key_id, principal),
         ins AS (INSERT INTO ${table} (${COLUMNS.join(', ')}) SELECT ${COLUMNS.map((c, i) => placeholder(c, first + i)).join(', ')} FROM old RETURNING key_id)${
           withEvent
             ? `, ev AS (INSERT INTO ${events} (${EVENT_COLUMNS}) SELECT $${k}, $${k + 1}, $${k + 2}, key_id, principal, $${k + 3}::text::jsonb FROM old)`
             : ''
         }
         SELECT key_id FROM ins`,
        [keyId, now, ifVersion ?? null, ...params, ...values(next), ...(withEvent ? eventParams(e) : [])],
      )
      return rows.length === 1
    },
    async list(query) {
      const where: string[] = []
      const params: unknown[] = []
      const param = (v: unknown) => {
        params.push(v)
        return `$${params.length}`
      }
      if (query.principal !== undefined) where.push(`principal = ${param(query.principal)}`)
      if (query.after !== undefined) where.push(`key_id COLLATE "C" > ${param(query.after)}`)
      if (query.status === 'revoked') where.push(`status = 'revoked'`)
      else if (query.status !== undefined) {
        const n = param(query.now)
        where.push(query.status === 'active' ? liveSql(n) : expiredSql(n))
      }
      const limit = query.limit ? ` LIMIT ${param(query.limit)}` : ''
      const rows = await q(
        `SELECT ${SELECT} FROM ${table}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY key_id COLLATE "C"${limit}`,
        params,
      )
      return rows.map(fromRow)
    },
    async staleSecrets(version, limit, after) {
      const rows = await q(
        `SELECT key_id, master_key_version, secret_ciphertext FROM ${table} WHERE master_key_version <> $1 AND key_id COLLATE "C" > $2 ORDER BY key_id COLLATE "C" LIMIT $3`,
        [version, after ?? '', limit],
      )
      return rows.map((r) => ({
        keyId: r.key_id as string,
        sealed: { version: r.master_key_version as string, data: bytes(r.secret_ciphertext) },
      }))
    },
    async replaceSecret(keyId, from, s, mac, ifVersion) {
      const rows = await q(
        `UPDATE ${table} SET secret_ciphertext = $1, master_key_version = $2, record_mac = $5 WHERE key_id = $3 AND master_key_version = $4 AND ($6::integer IS NULL OR version = $6) RETURNING key_id`,
        [Buffer.from(s.data), s.version, keyId, from, mac ? Buffer.from(mac) : null, ifVersion ?? null],
      )
      return rows.length === 1
    },
    async staleRows(version, limit, after) {
      const rows = await q(
        `SELECT ${SELECT} FROM ${table} WHERE master_key_version <> $1 AND key_id COLLATE "C" > $2 ORDER BY key_id COLLATE "C" LIMIT $3`,
        [version, after ?? '', limit],
      )
      return rows.map(fromRow)
    },
    async replaceSecrets(items) {
      if (items.length === 0) return []
      // One statement for the whole batch (atomic on its own): each row keeps its own guards, so a
      // row edited or re-encrypted since it was read is left as it is and not returned.
      const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : null)
      const rows = await q(
        `UPDATE ${table} t SET secret_ciphertext = decode(v.ct, 'hex'), master_key_version = v.mkv, record_mac = decode(v.mac, 'hex')
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::integer[]) AS v(key_id, from_v, ct, mkv, mac, ver)
         WHERE t.key_id = v.key_id AND t.master_key_version = v.from_v AND (v.ver IS NULL OR t.version = v.ver)
         RETURNING t.key_id`,
        [
          items.map((i) => i.keyId),
          items.map((i) => i.fromVersion),
          items.map((i) => hex(i.sealed.data)),
          items.map((i) => i.sealed.version),
          items.map((i) => hex(i.mac)),
          items.map((i) => i.ifVersion ?? null),
        ],
      )
      return rows.map((r) => r.key_id as string)
    },
    async insertMany(items) {
      if (items.length === 0) return
      // One statement for the whole batch (all or none): the rows from parallel arrays, and each
      // row's event joined to it by key id (a data-modifying CTE, as for a single insert).
      const col = (f: (r: StoredKey) => unknown) => items.map((i) => f(i.row))
      const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : null)
      const ts = (d: Date | undefined) => (d ? d.toISOString() : null)
      const rowsSql = `SELECT k, p, s::jsonb, st, ca::timestamptz, ua::timestamptz, ea::timestamptz, na::timestamptz, ra::timestamptz, rb,
          l::jsonb, m::jsonb, decode(c, 'hex'), mkv, v, decode(mac, 'hex'), t
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
          $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::integer[], $16::text[], $17::boolean[])
          AS x(k, p, s, st, ca, ua, ea, na, ra, rb, l, m, c, mkv, v, mac, t)`
      const params: unknown[] = [
        col((r) => r.keyId),
        col((r) => r.principal),
        col((r) => json(r.scopes)),
        col((r) => r.status),
        col((r) => ts(r.createdAt)),
        col((r) => ts(r.updatedAt)),
        col((r) => ts(r.expiresAt)),
        col((r) => ts(r.notAfter)),
        col((r) => ts(r.revokedAt)),
        col((r) => r.replacedBy ?? null),
        col((r) => json(r.rateLimits)),
        col((r) => json(r.metadata)),
        col((r) => hex(r.sealed.data)),
        col((r) => r.sealed.version),
        col((r) => r.version),
        col((r) => hex(r.mac)),
        col((r) => r.test === true),
      ]
      const withEvents = events !== undefined && items.some((i) => i.event)
      if (!withEvents) {
        await q(`INSERT INTO ${table} (${COLUMNS.join(', ')}) ${rowsSql}`, params)
        return
      }
      const ev = items.filter((i) => i.event)
      params.push(
        ev.map((i) => i.row.keyId),
        ev.map((i) => ts(i.event?.at)),
        ev.map((i) => i.event?.actor),
        ev.map((i) => i.event?.action),
        ev.map((i) => json(i.event?.detail)),
      )
      await q(
        `WITH i AS (INSERT INTO ${table} (${COLUMNS.join(', ')}) ${rowsSql} RETURNING key_id, principal)
         INSERT INTO ${events} (${EVENT_COLUMNS})
         SELECT e.at::timestamptz, e.actor, e.action, i.key_id, i.principal, e.detail::jsonb
         FROM i JOIN unnest($18::text[], $19::text[], $20::text[], $21::text[], $22::text[]) AS e(key_id, at, actor, action, detail) ON e.key_id = i.key_id`,
        params,
      )
    },
    async countSecretVersions() {
      const rows = await q(`SELECT master_key_version AS v, count(*)::integer AS n FROM ${table} GROUP BY master_key_version`, [])
      return new Map(rows.map((r) => [r.v as string, Number(r.n)]))
    },
    ...(events
      ? {
          async appendEvent(e: NewKeyEvent) {
            const [r] = await q(`INSERT INTO ${events} (${EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6::text::jsonb) RETURNING *`, [
              e.at,
              e.actor,
              e.action,
              e.keyId ?? null,
              e.principal ?? null,
              json(e.detail),
            ])
            return eventFromRow(r as Row)
          },
          async listEvents(query: { limit: number; before?: number; principal?: string }) {
            const where: string[] = []
            const params: unknown[] = []
            if (query.before !== undefined) {
              params.push(query.before)
              where.push(`id < $${params.length}`)
            }
            if (query.principal !== undefined) {
              params.push(query.principal)
              where.push(`principal = $${params.length}`)
            }
            params.push(query.limit)
            const rows = await q(
              `SELECT id, ${EVENT_COLUMNS} FROM ${events}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
              params,
            )
            return rows.map(eventFromRow)
          },
        }
      : {}),
    ...(sessions ? { sessions: postgresSessions(q, sessions.sessions, sessions.spent) } : {}),
    close,
  }
}

/**
 * Sessions and spent one-time tokens (quoted table names): one statement each, so a spend is one
 * unique insert — of any number of instances racing, exactly one inserts the row.
 */
function postgresSessions(q: (sql: string, params: unknown[]) => Promise<Row[]>, sessions: string, spent: string): SessionBackend {
  return {
    async spend(id, expiresAt) {
      return (
        (await q(`INSERT INTO ${spent} (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id`, [id, expiresAt]))
          .length === 1
      )
    },
    async insertSession(id, data, expiresAt) {
      await q(`INSERT INTO ${sessions} (id, data, expires_at) VALUES ($1, $2, $3)`, [id, data, expiresAt])
    },
    async readSession(id, now) {
      const [r] = await q(`SELECT data, expires_at FROM ${sessions} WHERE id = $1 AND expires_at > $2`, [id, now])
      return r && { data: r.data as string, expiresAt: r.expires_at as Date }
    },
    async deleteSession(id) {
      await q(`DELETE FROM ${sessions} WHERE id = $1`, [id])
    },
    async sweep(now) {
      const [r] = await q(
        `WITH a AS (DELETE FROM ${sessions} WHERE expires_at <= $1 RETURNING 1), b AS (DELETE FROM ${spent} WHERE expires_at <= $1 RETURNING 1)
         SELECT (SELECT count(*) FROM a)::integer + (SELECT count(*) FROM b)::integer AS n`,
        [now],
      )
      return Number(r?.n ?? 0)
    },
  }
}

/**
 * Refuse a master key that does not match the store (see `checkMasterKeys`), before anything is
 * written; record check values of versions used for the first time. Concurrent first opens with
 * different keys for one version: only the value stored first is accepted (checked again after insert).
 */
export async function verifyPostgresMasterKeys(
  client: PgQueryClient,
  schemaName: string,
  table: string,
  ring: MasterKeyRing,
): Promise<void> {
  const checks = `"${schemaName}"."${table}_master_keys"`
  const rows = `"${schemaName}"."${table}"`
  const evidence = async () => {
    const found = (await client.query(`SELECT version, check_value FROM ${checks}`)).rows as Row[]
    const samples = new Map<string, Row>()
    for (const v of ring.keys.keys()) {
      const [r] = (await client.query(`SELECT key_id, secret_ciphertext FROM ${rows} WHERE master_key_version = $1 LIMIT 1`, [v]))
        .rows as Row[]
      if (r) samples.set(v, r)
    }
    return {
      checks: new Map(found.map((r) => [r.version as string, bytes(r.check_value)])),
      sample: (version: string) => {
        const r = samples.get(version)
        return r && { keyId: r.key_id as string, sealed: { version, data: bytes(r.secret_ciphertext) } }
      },
    }
  }
  let fresh: ReturnType<typeof checkMasterKeys>
  try {
    fresh = checkMasterKeys(ring, await evidence())
    if (fresh.length === 0) return
    try {
      for (const c of fresh) {
        await client.query(`INSERT INTO ${checks} (version, check_value) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING`, [
          c.version,
          Buffer.from(c.data),
        ])
      }
    } catch (e) {
      // A read-only replica or role cannot record a version seen for the first
      // time; every version was checked above against what the store holds, and the first open
      // that can write records it.
      const code = (e as { code?: unknown } | undefined)?.code
      if (code === '25006' || code === '42501') return
      throw e
    }
    checkMasterKeys(ring, await evidence())
  } catch (e) {
    if (e instanceof SigilError) throw e
    throw new SigilError('STORE_UNAVAILABLE', 'cannot read the master-key checks of the PostgreSQL key store', { cause: e })
  }
}

/**
 * Once, after the migration that added record MACs: MAC every row written before it (taken as
 * authentic, as the previous release took them) and drop the marker, in one statement, so it is
 * all or nothing. Only while no row has a MAC yet: a marker put back later (by hand, or by someone
 * who can write to the database) never re-authenticates rows of a table already authenticated.
 * A row changed in between (same version guard) keeps no MAC and fails closed. Afterwards a row
 * without a MAC is refused.
 */
export async function authenticatePostgresLegacyRows(
  client: PgQueryClient,
  schemaName: string,
  table: string,
  mac: (row: StoredKey) => Uint8Array,
): Promise<number> {
  const meta = `"${schemaName}"."${table}_meta"`
  const rows = `"${schemaName}"."${table}"`
  try {
    const marker = (await client.query(`SELECT value FROM ${meta} WHERE name = 'authenticate_legacy_rows'`)).rows
    if (marker.length === 0) return 0
    if ((await client.query(`SELECT 1 FROM ${rows} WHERE record_mac IS NOT NULL LIMIT 1`)).rows.length > 0) {
      await client.query(`DELETE FROM ${meta} WHERE name = 'authenticate_legacy_rows'`)
      return 0
    }
    const legacy = ((await client.query(`SELECT ${SELECT} FROM ${rows} WHERE record_mac IS NULL`)).rows as Row[]).map(fromRow)
    const r = await client.query(
      `WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::integer[]) AS v(key_id, mac, version)),
       u AS (UPDATE ${rows} t SET record_mac = decode(v.mac, 'hex') FROM v
             WHERE t.key_id = v.key_id AND t.version = v.version AND t.record_mac IS NULL
               AND EXISTS (SELECT 1 FROM ${meta} WHERE name = 'authenticate_legacy_rows')
             RETURNING t.key_id),
       d AS (DELETE FROM ${meta} WHERE name = 'authenticate_legacy_rows')
       SELECT count(*)::integer AS n FROM u`,
      [legacy.map((x) => x.keyId), legacy.map((x) => Buffer.from(mac(x)).toString('hex')), legacy.map((x) => x.version)],
    )
    return Number((r.rows[0] as Row | undefined)?.n ?? 0)
  } catch (e) {
    throw new SigilError('STORE_UNAVAILABLE', 'cannot authenticate the rows of the PostgreSQL key store written before record MACs', {
      cause: e,
    })
  }
}

import { ConfigurationError, SigilError } from '@sigil/core'
import { zodOptionsError } from '@sigil/core/internal'
import pg from 'pg'
import { z } from 'zod'
import { createBackedKeyStore, type KeyStoreMigrationReport, migrateKeyRows } from './backed-key-store.js'
import type { EncryptedKeyStore } from './key-store.js'
import { parseMasterKey } from './master-key.js'
import { authenticatePostgresLegacyRows, postgresBackend, type StatementClient, verifyPostgresMasterKeys } from './postgres-backend.js'
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js'
import { recordMac } from './record-mac.js'
import { type StoreOptions, storeOptionsOf, storeOptionsSchema } from './store-options.js'

/**
 * The few methods the store needs from a PostgreSQL client. A `pg.Pool` and a PGlite instance
 * both fit as they are. `exec` (PGlite) runs several statements; without it `query(sql)` with no
 * parameters does (pg's simple protocol, one implicit transaction).
 */
export interface PgQueryClient {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>
  exec?(text: string): Promise<unknown>
}

/** Options of {@link createPostgresKeyStore}. */
export interface PostgresKeyStoreOptions extends StoreOptions {
  /** A `pg.Pool`, a PGlite instance, or anything with {@link PgQueryClient}'s shape. */
  client?: PgQueryClient
  /** Used to create (and on `close()` end) a `pg.Pool` when no client is given. */
  connectionString?: string
  /** Default `public`; created if missing. */
  schema?: string
  /** Default `sigil_keys`. */
  table?: string
  /**
   * Longest a query may take before its connection is destroyed and the call fails with
   * `STORE_UNAVAILABLE`. Applies to the pool created from `connectionString` and to a `pg.Pool`
   * passed as `client`. Default 2000 ms (migrations at open: 30 s).
   */
  queryTimeoutMs?: number
  /** Longest wait for a pooled connection (or a new one) before the call fails. Default 2000 ms. */
  connectionTimeoutMs?: number
  /** Connections of the pool created from `connectionString`. Default 10. */
  poolSize?: number
  /**
   * On a `pg.Pool`, the store's statements are named prepared statements, parsed and planned once
   * per connection. Set `false` behind a pooler in transaction mode that cannot keep them
   * (PgBouncer before 1.21, or later without `max_prepared_statements`): every statement is then
   * sent unnamed (parsed and planned on each call), and the pool built from `connectionString`
   * sends no `statement_timeout` startup parameter, which PgBouncer refuses (set it on the role:
   * `ALTER ROLE … SET statement_timeout = '30s'`). `queryTimeoutMs` applies either way. Default `true`.
   */
  preparedStatements?: boolean
}

/**
 * A pg.Pool's connection as far as the guard needs it: `connection.stream` is pg's socket, which
 * is destroyed when a query hangs (ending it politely would wait for a peer that may never answer).
 */
interface PooledClient {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>
  release(err?: Error | boolean): void
  on(event: 'error', listener: (e: Error) => void): unknown
  removeListener(event: 'error', listener: (e: Error) => void): unknown
  connection?: { stream?: { destroy(): void } }
}
interface PoolLike {
  connect(): Promise<PooledClient>
  totalCount: number
}
const isPool = (c: unknown): c is PoolLike =>
  typeof (c as PoolLike)?.connect === 'function' && typeof (c as PoolLike).totalCount === 'number'

function deadline<T>(p: Promise<T>, ms: number, what: string): { promise: Promise<T>; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined
  const promise = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
    p.then(resolve, reject)
  })
  return { promise, cancel: () => clearTimeout(timer) }
}

/**
 * Run every query of the store on its own pooled connection under a deadline: acquiring waits at
 * most `acquireMs`; a query that outlives `queryMs` has its connection destroyed (so a pool whose
 * connections all hung on a frozen network path refills with fresh ones) and fails. Any failed
 * query also takes its connection out of the pool, as `pool.query` does.
 */
function guardPool(pool: PoolLike, queryMs: number, acquireMs: number, named: boolean): StatementClient {
  const acquire = async (): Promise<PooledClient> => {
    const acquiring = pool.connect()
    const acquire = deadline(acquiring, acquireMs, 'acquiring a connection')
    let c: PooledClient
    try {
      c = await acquire.promise
    } catch (e) {
      // A connection that arrives after we gave up goes straight back.
      acquiring.then(
        (late) => late.release(),
        () => {},
      )
      throw e
    } finally {
      acquire.cancel()
    }
    return c
  }
  const run = async (text: string, params: unknown[] | undefined, ms: number, name?: string) => {
    const c = await acquire()
    // A checked-out client has no pool listener: a backend terminated mid-query (or a reset
    // socket) would emit 'error' with no one listening and crash the process. Listen while we hold it.
    const swallow = () => {}
    c.on('error', swallow)
    // A named statement is parsed on this connection the first time; a connection that fails a
    // query is destroyed below, so no half-prepared state outlives it.
    const q = name === undefined ? c.query(text, params) : c.query({ name, text, values: params as unknown[] })
    const d = deadline(q, ms, 'query')
    try {
      const r = await d.promise
      c.removeListener('error', swallow)
      c.release()
      return r
    } catch (e) {
      q.catch(() => {})
      // Out of the pool first (pg marks it ending, so the destroyed socket raises no error event).
      c.release(e instanceof Error ? e : true)
      c.connection?.stream?.destroy()
      throw e
    } finally {
      d.cancel()
    }
  }
  // One connection for BEGIN … COMMIT, each statement under the deadline; a failed transaction
  // is rolled back, and its connection destroyed if even that fails.
  const transaction = async <T>(fn: (tx: PgQueryClient) => Promise<T>, timeoutMs = queryMs): Promise<T> => {
    const c = await acquire()
    const swallow = () => {}
    c.on('error', swallow)
    const q = async (text: string, params?: unknown[]) => {
      const p = c.query(text, params)
      const d = deadline(p, timeoutMs, 'query')
      try {
        return await d.promise
      } catch (e) {
        p.catch(() => {})
        throw e
      } finally {
        d.cancel()
      }
    }
    let r: T
    try {
      await q('BEGIN')
      r = await fn({ query: q })
      await q('COMMIT')
    } catch (e) {
      try {
        await q('ROLLBACK')
        c.removeListener('error', swallow)
        c.release()
      } catch {
        c.release(true)
        c.connection?.stream?.destroy()
      }
      throw e
    }
    c.removeListener('error', swallow)
    c.release()
    return r
  }
  return {
    transaction,
    query: (text, params) => run(text, params, queryMs),
    // Unnamed (pg's extended protocol with the unnamed statement): what transaction poolers accept.
    prepared: named ? (name, text, params) => run(text, params, queryMs, name) : (_name, text, params) => run(text, params, queryMs),
    // Migrations (at open only) may wait on another instance's migration lock.
    exec: (text) => run(text, undefined, Math.max(queryMs, 30_000)),
  }
}

/**
 * Transactions on a client that is one connection (PGlite, a `pg.Client`): PGlite's own
 * `transaction` when it has one, else BEGIN … COMMIT with this store's transactions run one at a time.
 */
function plainTransaction(plain: PgQueryClient): StatementClient['transaction'] {
  const own = (plain as { transaction?: unknown }).transaction
  if (typeof own === 'function') {
    return (fn) => (own as (cb: (tx: PgQueryClient) => Promise<unknown>) => Promise<unknown>).call(plain, fn) as never
  }
  let tail: Promise<unknown> = Promise.resolve()
  return <T>(fn: (tx: PgQueryClient) => Promise<T>): Promise<T> => {
    const next = tail.then(async () => {
      await plain.query('BEGIN')
      try {
        const r = await fn(plain)
        await plain.query('COMMIT')
        return r
      } catch (e) {
        await plain.query('ROLLBACK').catch(() => {})
        throw e
      }
    })
    tail = next.catch(() => {})
    return next
  }
}

const ident = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'identifiers are letters, digits and _')
const schema = storeOptionsSchema.extend({
  client: z.unknown().optional(),
  connectionString: z.string().min(1).optional(),
  schema: ident.optional(),
  table: ident.optional(),
  queryTimeoutMs: z.number().int().min(1).optional(),
  connectionTimeoutMs: z.number().int().min(1).optional(),
  poolSize: z.number().int().min(1).max(1000).optional(),
  preparedStatements: z.boolean().optional(),
})

const LATEST = Math.max(...POSTGRES_MIGRATIONS.map((m) => m.version))

/**
 * The schema version of a store: the highest migration applied, 0 for none (no schema or table
 * yet). Read-only: two SELECTs, no DDL and no lock, so it runs on a hot standby or under a
 * read-only role.
 */
export async function postgresSchemaVersion(client: PgQueryClient, schemaName: string, table: string): Promise<number> {
  const name = `"${schemaName}"."${table}_migrations"`
  const { rows } = await client.query('SELECT to_regclass($1) IS NOT NULL AS present', [name])
  if (!(rows[0] as { present?: boolean } | undefined)?.present) return 0
  const r = await client.query(`SELECT coalesce(max(version), 0) AS v FROM ${name}`)
  return Number((r.rows[0] as { v?: unknown } | undefined)?.v ?? 0)
}

/** Versions of {@link POSTGRES_MIGRATIONS} above `version`, the ones a store at `version` lacks. */
export function pendingPostgresMigrations(version: number): number[] {
  return POSTGRES_MIGRATIONS.filter((m) => m.version > version).map((m) => m.version)
}

// SQLSTATEs of a connection that may not write: read_only_sql_transaction (a hot standby,
// default_transaction_read_only) and insufficient_privilege (a role without CREATE or INSERT).
const READ_ONLY = new Set(['25006', '42501'])
const sqlState = (e: unknown): unknown => (e as { code?: unknown } | undefined)?.code

/**
 * Apply the pending migrations. The version is read first, read-only: a store that is up to date
 * (every open but the first after an upgrade) runs no DDL and takes no lock, so instances open on
 * a read-only replica. Only when a migration is pending: one transaction that takes an advisory
 * lock, reads the applied versions again under it (another instance may have just migrated), and
 * applies what is still missing, so many instances starting at once migrate exactly once.
 */
async function migrate(client: StatementClient, schemaName: string, table: string): Promise<void> {
  const version = await postgresSchemaVersion(client, schemaName, table)
  if (version >= LATEST) return
  const s = `"${schemaName}"`
  const t = `"${table}"`
  await client
    .transaction(async (tx) => {
      const run = (sql: string) => (tx.exec ? tx.exec(sql) : tx.query(sql))
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sigil-keys:${schemaName}.${table}`])
      await run(
        `CREATE SCHEMA IF NOT EXISTS ${s};\nCREATE TABLE IF NOT EXISTS ${s}."${table}_migrations" (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());`,
      )
      const { rows } = await tx.query(`SELECT version FROM ${s}."${table}_migrations"`)
      const done = new Set((rows as Array<{ version: number }>).map((r) => Number(r.version)))
      for (const m of POSTGRES_MIGRATIONS) {
        if (done.has(m.version)) continue
        const sql = m.sql.replaceAll('{schema}', s).replaceAll('{table}', t).replaceAll('{name}', table)
        await run(`${sql}\nINSERT INTO ${s}."${table}_migrations" (version) VALUES (${m.version}) ON CONFLICT DO NOTHING;`)
      }
    }, 30_000)
    .catch((e: unknown) => {
      if (!READ_ONLY.has(sqlState(e) as string)) throw e
      throw new ConfigurationError(
        `the PostgreSQL key store ${s}.${t} is at schema version ${version} and this release needs ${LATEST}, but this connection cannot migrate it (a hot standby, default_transaction_read_only, or a role without CREATE): run \`sigil keys migrate\` once against the primary with a role that owns the schema; read-only instances then open without writing`,
        { cause: e },
      )
    })
}

/**
 * A key store on PostgreSQL through `pg`, or on PGlite (same SQL) through the same class.
 * Migrations are applied idempotently when it opens; secrets are AES-256-GCM encrypted under
 * `masterKey` (required). Query failures surface as `STORE_UNAVAILABLE`.
 *
 * On a `pg.Pool` (its own, or one passed as `client`) every query runs under a deadline
 * (`queryTimeoutMs`, `connectionTimeoutMs`): a connection whose query hangs — frozen network
 * path, vanished host — is destroyed rather than waited on, and a terminated backend is dropped,
 * so the pool refills with working connections as soon as the server is reachable again.
 *
 * @example
 * ```ts
 * import { createPostgresKeyStore } from '@sigil/keys/postgres'
 * const keys = await createPostgresKeyStore({ connectionString: process.env.DATABASE_URL, masterKey: process.env.SIGIL_MASTER_KEY })
 * // or: await createPostgresKeyStore({ client: new PGlite(), masterKey })
 * ```
 */
export async function createPostgresKeyStore(options: PostgresKeyStoreOptions): Promise<EncryptedKeyStore> {
  const parsed = schema.safeParse(options)
  if (!parsed.success) throw zodOptionsError('PostgreSQL key store options', parsed.error, schema)
  if (!options.client === !options.connectionString) throw new ConfigurationError('pass exactly one of client or connectionString')
  const ring = parseMasterKey(options.masterKey)
  const queryMs = options.queryTimeoutMs ?? 2_000
  const acquireMs = options.connectionTimeoutMs ?? 2_000
  const owned = options.client
    ? undefined
    : new pg.Pool({
        connectionString: options.connectionString,
        max: options.poolSize ?? 10,
        connectionTimeoutMillis: acquireMs,
        idleTimeoutMillis: 30_000,
        // The kernel notices a server host that vanished; the guard handles paths that freeze.
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
        // Server-side backstop: a statement whose client went away does not run on for ever. pg
        // sends it as a startup parameter, which PgBouncer refuses ("unsupported startup
        // parameter"): behind a pooler (preparedStatements: false) set it on the role instead.
        ...(options.preparedStatements === false ? {} : { statement_timeout: Math.max(queryMs, 30_000) }),
      })
  // An idle pooled connection that drops (server restart, pg_terminate_backend) must not crash
  // the process; the pool discards it and the next query opens a new one.
  owned?.on('error', () => {})
  const given = options.client
  const plain = given as PgQueryClient
  const named = options.preparedStatements ?? true
  const client: StatementClient = owned
    ? guardPool(owned as unknown as PoolLike, queryMs, acquireMs, named)
    : isPool(given)
      ? guardPool(given, queryMs, acquireMs, named)
      : {
          query: (text, params) => plain.query(text, params),
          prepared: (_name, text, params) => plain.query(text, params),
          transaction: plainTransaction(plain),
          ...(plain.exec ? { exec: (text: string) => (plain.exec as (t: string) => Promise<unknown>).call(plain, text) } : {}),
        }
  const schemaName = options.schema ?? 'public'
  const table = options.table ?? 'sigil_keys'
  try {
    await migrate(client, schemaName, table)
  } catch (e) {
    await owned?.end()
    if (e instanceof ConfigurationError) throw e
    throw new SigilError('STORE_UNAVAILABLE', 'cannot open the PostgreSQL key store (connection or migration failed)', { cause: e })
  }
  try {
    await verifyPostgresMasterKeys(client, schemaName, table, ring)
    // Once after the upgrade that added record MACs: the rows of the previous release get theirs.
    await authenticatePostgresLegacyRows(client, schemaName, table, (row) => recordMac(ring, row))
  } catch (e) {
    await owned?.end()
    throw e
  }
  const backend = postgresBackend(
    client,
    `"${schemaName}"."${table}"`,
    async () => {
      await owned?.end()
    },
    `"${schemaName}"."${table}_events"`,
    { sessions: `"${schemaName}"."${table}_sessions"`, spent: `"${schemaName}"."${table}_spent_tokens"` },
  )
  return createBackedKeyStore(backend, { ...storeOptionsOf(options), masterKey: ring })
}

/**
 * Bring a PostgreSQL store to this release: the schema migrations (under the advisory lock, as an
 * open does), then every row of an older format rewritten in today's (see `migrateKeyRows`). With
 * `dryRun`, all of it runs on one connection inside a transaction that is rolled back, so the
 * report is exactly what a real run would change and nothing is kept (`sigil keys migrate --check`;
 * against a read-only database with migrations pending it fails, naming why). `dryRun` needs
 * `connectionString`.
 *
 * @example
 * ```ts
 * const report = await migratePostgresKeyStore({ connectionString, masterKey, dryRun: true })
 * ```
 */
export async function migratePostgresKeyStore(options: PostgresKeyStoreOptions & { dryRun?: boolean }): Promise<KeyStoreMigrationReport> {
  const { dryRun, ...storeOptions } = options
  const schemaName = options.schema ?? 'public'
  const table = options.table ?? 'sigil_keys'
  const report = async (store: EncryptedKeyStore, version: number): Promise<KeyStoreMigrationReport> => {
    try {
      const rows = await migrateKeyRows(store, { dryRun: dryRun === true })
      return { schema: { version, latest: LATEST, pending: pendingPostgresMigrations(version) }, rows }
    } finally {
      await store.close()
    }
  }
  if (!dryRun) {
    const probe = options.client ?? new pg.Pool({ connectionString: options.connectionString, max: 1 })
    let version: number
    try {
      version = await postgresSchemaVersion(probe, schemaName, table)
    } catch (e) {
      throw new SigilError('STORE_UNAVAILABLE', 'cannot read the schema version of the PostgreSQL key store', { cause: e })
    } finally {
      if (!options.client) await (probe as pg.Pool).end()
    }
    return report(await createPostgresKeyStore(storeOptions), version)
  }
  if (!options.connectionString) throw new ConfigurationError('a dry run (dryRun) opens its own connection: pass connectionString')
  const c = new pg.Client({ connectionString: options.connectionString })
  c.on('error', () => {})
  try {
    await c.connect()
    await c.query('BEGIN')
  } catch (e) {
    await c.end().catch(() => {})
    throw new SigilError('STORE_UNAVAILABLE', 'cannot connect to the PostgreSQL key store', { cause: e })
  }
  try {
    const version = await postgresSchemaVersion(c, schemaName, table)
    // The store's own transactions become savepoints of the one that is rolled back at the end.
    const inner: PgQueryClient = {
      query: (text, params) => {
        const t = text.trim().toUpperCase()
        if (t === 'BEGIN') return c.query('SAVEPOINT sigil_dry_run')
        if (t === 'COMMIT') return c.query('RELEASE SAVEPOINT sigil_dry_run')
        if (t === 'ROLLBACK') return c.query('ROLLBACK TO SAVEPOINT sigil_dry_run')
        return c.query(text, params)
      },
    }
    const { connectionString: _, ...rest } = storeOptions
    return await report(await createPostgresKeyStore({ ...rest, client: inner }), version)
  } finally {
    await c.query('ROLLBACK').catch(() => {})
    await c.end().catch(() => {})
  }
}

export type { KeyRowMigration, KeyStoreMigrationReport } from './backed-key-store.js'
export type { EncryptedKeyStore } from './key-store.js'

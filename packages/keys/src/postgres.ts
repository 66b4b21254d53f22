import { ConfigurationError, SigilError } from '@sigil/core'
import pg from 'pg'
import { z } from 'zod'
import { createBackedKeyStore } from './backed-key-store.js'
import type { EncryptedKeyStore } from './key-store.js'
import { parseMasterKey } from './master-key.js'
import { postgresBackend, verifyPostgresMasterKeys } from './postgres-backend.js'
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js'
import { type StoreOptions, storeOptionsSchema } from './store-options.js'

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
}

const ident = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'identifiers are letters, digits and _')
const schema = storeOptionsSchema.extend({
  client: z.unknown().optional(),
  connectionString: z.string().min(1).optional(),
  schema: ident.optional(),
  table: ident.optional(),
})

async function migrate(client: PgQueryClient, schemaName: string, table: string): Promise<void> {
  const s = `"${schemaName}"`
  const t = `"${table}"`
  const lock = `SELECT pg_advisory_xact_lock(hashtext('sigil-keys:${schemaName}.${table}'));`
  const run = (sql: string) => (client.exec ? client.exec(sql) : client.query(sql))
  await run(
    `${lock}\nCREATE SCHEMA IF NOT EXISTS ${s};\nCREATE TABLE IF NOT EXISTS ${s}."${table}_migrations" (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());`,
  )
  const { rows } = await client.query(`SELECT version FROM ${s}."${table}_migrations"`)
  const done = new Set((rows as Array<{ version: number }>).map((r) => Number(r.version)))
  for (const m of POSTGRES_MIGRATIONS) {
    if (done.has(m.version)) continue
    const sql = m.sql.replaceAll('{schema}', s).replaceAll('{table}', t).replaceAll('{name}', table)
    await run(`${lock}\n${sql}\nINSERT INTO ${s}."${table}_migrations" (version) VALUES (${m.version}) ON CONFLICT DO NOTHING;`)
  }
}

/**
 * A key store on PostgreSQL through `pg`, or on PGlite (same SQL) through the same class.
 * Migrations are applied idempotently when it opens; secrets are AES-256-GCM encrypted under
 * `masterKey` (required). Query failures surface as `STORE_UNAVAILABLE`.
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
  if (!parsed.success) throw new ConfigurationError('invalid PostgreSQL key store options', { cause: parsed.error })
  if (!options.client === !options.connectionString) throw new ConfigurationError('pass exactly one of client or connectionString')
  const ring = parseMasterKey(options.masterKey)
  const owned = options.client ? undefined : new pg.Pool({ connectionString: options.connectionString, max: 10 })
  // An idle pooled connection that drops must not crash the process; the next query reconnects.
  owned?.on('error', () => {})
  const client = (options.client ?? owned) as PgQueryClient
  const schemaName = options.schema ?? 'public'
  const table = options.table ?? 'sigil_keys'
  try {
    await migrate(client, schemaName, table)
  } catch (e) {
    await owned?.end()
    throw new SigilError('STORE_UNAVAILABLE', 'cannot open the PostgreSQL key store (connection or migration failed)', { cause: e })
  }
  try {
    await verifyPostgresMasterKeys(client, schemaName, table, ring)
  } catch (e) {
    await owned?.end()
    throw e
  }
  const backend = postgresBackend(client, `"${schemaName}"."${table}"`, async () => {
    await owned?.end()
  })
  return createBackedKeyStore(backend, { ...options, masterKey: ring })
}

export type { EncryptedKeyStore } from './key-store.js'

import { randomBytes } from 'node:crypto'
import { type AddressInfo, connect, createServer, type Socket } from 'node:net'
import { generateMasterKey } from '@sigil/keys'
import { createPostgresKeyStore, type PostgresKeyStoreOptions } from '@sigil/keys/postgres'
import { describeEncryptedKeyStore, describeKeyStore, type KeyStoreHarness } from '@sigil/keys/testing'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_DATABASE_URL } from '../../../test/helpers/services.js'
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js'

// CI starts PostgreSQL; when it is not answering these tests fail (in beforeAll), never skip.
const url = TEST_DATABASE_URL
const schema = `sigil_keys_test_${randomBytes(6).toString('hex')}`
const pool = new pg.Pool({ connectionString: url, max: 4 })
let n = 0

beforeAll(async () => {
  await pool.query('SELECT 1')
})
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await pool.end()
})

/**
 * A TCP proxy in front of the server that reads what the client sends, as a pooler would: each
 * connection's startup parameters, and the name of every Parse message ('' = unnamed statement).
 */
async function wireTap() {
  const target = new URL(url)
  const startups: string[] = []
  const parseNames: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname)
    sockets.add(client).add(upstream)
    let buf = Buffer.alloc(0)
    let started = false
    client.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      for (;;) {
        if (!started) {
          if (buf.length < 4 || buf.length < buf.readInt32BE(0)) break
          const len = buf.readInt32BE(0)
          startups.push(buf.subarray(8, len).toString('latin1'))
          buf = buf.subarray(len)
          started = true
        } else {
          if (buf.length < 5 || buf.length < 1 + buf.readInt32BE(1)) break
          const len = buf.readInt32BE(1)
          if (buf[0] === 0x50) parseNames.push(buf.subarray(5, buf.indexOf(0, 5)).toString('latin1'))
          buf = buf.subarray(1 + len)
        }
      }
      upstream.write(d)
    })
    upstream.on('data', (d) => client.write(d))
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const proxied = new URL(url)
  proxied.hostname = '127.0.0.1'
  proxied.port = String((server.address() as AddressInfo).port)
  return {
    url: proxied.toString(),
    startups,
    parseNames,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise((r) => server.close(r))
    },
  }
}

function harness(extra: Partial<PostgresKeyStoreOptions> = {}): KeyStoreHarness {
  const table = `keys_${++n}`
  return {
    open: (o) => createPostgresKeyStore({ client: pool, schema, table, ...extra, ...o }),
    persistent: {
      dumpRows: async () => (await pool.query({ text: `SELECT * FROM "${schema}"."${table}"`, rowMode: 'array' })).rows,
      openWithoutMasterKey: () => createPostgresKeyStore({ client: pool, schema, table }),
    },
    cleanup: async () => {
      await pool.query(`DROP TABLE IF EXISTS "${schema}"."${table}", "${schema}"."${table}_migrations"`)
    },
  }
}

describeKeyStore('postgres (pg.Pool)', harness)
describeEncryptedKeyStore('postgres (pg.Pool)', harness)
describeKeyStore('postgres (pg.Pool, preparedStatements: false)', () => harness({ preparedStatements: false }))

describe('createPostgresKeyStore on PostgreSQL', () => {
  it('applies migrations idempotently, also when instances open at once', async () => {
    const table = `keys_${++n}`
    const mk = generateMasterKey()
    const stores = await Promise.all([1, 2, 3].map(() => createPostgresKeyStore({ client: pool, schema, table, masterKey: mk })))
    const { rows } = await pool.query(`SELECT version FROM "${schema}"."${table}_migrations" ORDER BY version`)
    expect(rows.map((r) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version))
    const c = await stores[0]?.create({ principal: 'p' })
    expect((await stores[2]?.get(c?.keyId as string))?.principal).toBe('p')
    for (const s of stores) await s.close()
  })

  it('opens from a connection string and ends its own pool on close', async () => {
    const s = await createPostgresKeyStore({ connectionString: url, schema, table: `keys_${++n}`, masterKey: generateMasterKey() })
    const c = await s.create({ principal: 'p' })
    expect((await s.get(c.keyId))?.status).toBe('active')
    await s.close()
  })

  it('reports an unreachable server as STORE_UNAVAILABLE', async () => {
    await expect(
      createPostgresKeyStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', masterKey: generateMasterKey() }),
    ).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' })
  })

  it('runs the key lookup as a named prepared statement, and keeps it working across a migration that adds a column', async () => {
    // One connection, so the session whose prepared statements we list is the store's.
    const one = new pg.Pool({ connectionString: url, max: 1 })
    const table = `keys_${++n}`
    try {
      const s = await createPostgresKeyStore({ client: one, schema, table, masterKey: generateMasterKey() })
      const { keyId } = await s.create({ principal: 'p' })
      expect((await s.get(keyId))?.principal).toBe('p')
      const { rows } = await one.query('SELECT name, statement FROM pg_prepared_statements')
      const lookup = rows.find((r) => /WHERE key_id = \$1 UNION ALL /.test(r.statement) && r.statement.startsWith('SELECT'))
      expect(lookup?.name).toMatch(/^sigil_keys_[0-9a-f]{24}$/)
      expect(lookup?.statement).not.toContain('*')
      // A later version's migration adds a column while this connection holds the prepared lookup.
      await one.query(`ALTER TABLE "${schema}"."${table}" ADD COLUMN added_later text`)
      expect((await s.get(keyId))?.principal).toBe('p')
      expect((await s.list()).map((k) => k.keyId)).toEqual([keyId])
      await s.close()
    } finally {
      await one.end()
    }
  })

  it('opaque mode: the lookup of an unknown key id gets a row back from the server, as a known one does, and answers undefined', async () => {
    // Issue 23 item 11: an unknown id read nothing (and converted nothing) where a known one read
    // and converted its row. One connection, watched: how many rows each lookup brings back.
    const one = new pg.Client({ connectionString: url })
    await one.connect()
    const table = `keys_${++n}`
    const rowsBack: number[] = []
    let watch = false
    const client = {
      async query(text: string, params?: unknown[]) {
        const r = await one.query(text, params)
        if (watch) rowsBack.push(r.rows.length)
        return r
      },
    }
    try {
      const s = await createPostgresKeyStore({ client, schema, table, masterKey: generateMasterKey() })
      watch = true
      // An empty table: no row to read, the answer is still undefined.
      expect(await s.get('sk_empty_table_unknown_id')).toBeUndefined()
      watch = false
      const a = await s.create({ principal: 'pa' })
      const b = await s.create({ principal: 'pb' })
      const c = await s.create({ principal: 'pc' })
      await s.revoke(b.keyId)
      watch = true
      // Each known id answers its own row, whichever other row the table lists first.
      expect((await s.get(a.keyId))?.principal).toBe('pa')
      expect((await s.get(b.keyId))?.status).toBe('revoked')
      expect((await s.get(c.keyId))?.principal).toBe('pc')
      expect(await s.get(`${a.keyId.slice(0, -4)}zzzz`)).toBeUndefined()
      expect(await s.info(`${c.keyId.slice(0, -4)}zzzz`)).toBeUndefined()
      watch = false
      expect(rowsBack).toEqual([0, 1, 1, 1, 1, 1])
      await s.close()
    } finally {
      await one.end()
    }
  })

  it('with preparedStatements: false prepares nothing on the server (what a transaction-mode pooler needs)', async () => {
    const one = new pg.Pool({ connectionString: url, max: 1 })
    const table = `keys_${++n}`
    try {
      const s = await createPostgresKeyStore({ client: one, schema, table, masterKey: generateMasterKey(), preparedStatements: false })
      const { keyId } = await s.create({ principal: 'p' })
      expect((await s.get(keyId))?.principal).toBe('p')
      expect((await s.list({ principal: 'p', limit: 10 })).map((k) => k.keyId)).toEqual([keyId])
      await s.update(keyId, { addScopes: ['orders:read'] })
      const { keyId: next } = await s.rotate(keyId)
      await s.revoke(next)
      expect((await s.get(next))?.status).toBe('revoked')
      const { rows } = await one.query('SELECT name FROM pg_prepared_statements')
      expect(rows).toEqual([])
      await s.close()
    } finally {
      await one.end()
    }
  })

  it('with preparedStatements: false sends what PgBouncer in transaction mode accepts: no named statement, no statement_timeout at startup', async () => {
    const tap = await wireTap()
    try {
      const seen = async (preparedStatements?: boolean) => {
        tap.startups.length = 0
        tap.parseNames.length = 0
        const s = await createPostgresKeyStore({
          connectionString: tap.url,
          schema,
          table: `keys_${++n}`,
          masterKey: generateMasterKey(),
          ...(preparedStatements === undefined ? {} : { preparedStatements }),
        })
        const { keyId } = await s.create({ principal: 'p' })
        await s.get(keyId)
        await s.list({ limit: 10 })
        await s.close()
        return { startups: [...tap.startups], names: [...new Set(tap.parseNames)] }
      }
      const off = await seen(false)
      expect(off.startups.length).toBeGreaterThan(0)
      for (const st of off.startups) expect(st).not.toContain('statement_timeout')
      expect(off.names).toEqual([''])
      // The default, for contrast: named statements and the server-side backstop.
      const on = await seen()
      expect(on.startups.every((st) => st.includes('statement_timeout'))).toBe(true)
      expect(on.names.some((name) => /^sigil_keys_[0-9a-f]{24}$/.test(name))).toBe(true)
    } finally {
      await tap.close()
    }
  })

  it('refuses a non-boolean preparedStatements', async () => {
    await expect(
      createPostgresKeyStore({
        client: pool,
        schema,
        table: `keys_${++n}`,
        masterKey: generateMasterKey(),
        preparedStatements: 'no' as never,
      }),
    ).rejects.toMatchObject({ code: 'CONFIGURATION_INVALID' })
  })
})

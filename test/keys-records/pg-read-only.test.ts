// A read-only PostgreSQL can be opened (issue 25 item 3): an instance and the read-only CLI
// commands work against a database with `default_transaction_read_only = on` (what a hot standby
// looks like to a client) and under a role that may only SELECT; a write command fails with a
// clear error; a store opens with no DDL and no lock when no migration is pending, and 8 instances
// opening a fresh schema at once migrate it exactly once. Before: every open ran CREATE SCHEMA /
// CREATE TABLE IF NOT EXISTS, so a new instance exited 1 and `sigil keys list` exited 4.
import { randomBytes } from 'node:crypto'
import { run } from '@sigil/cli'
import { signRequest } from '@sigil/client'
import { parseToken, type SigilError } from '@sigil/core'
import { type EncryptedKeyStore, generateMasterKey } from '@sigil/keys'
import { createPostgresKeyStore, type PgQueryClient } from '@sigil/keys/postgres'
import { verify } from '@sigil/server'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_DATABASE_URL } from '../helpers/services.js'

const suffix = randomBytes(5).toString('hex')
const database = `h_rows_ro_${suffix}`
const reader = `h_rows_ro_reader_${suffix}`
const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 })
const urlOf = (user?: string) => {
  const u = new URL(TEST_DATABASE_URL)
  u.pathname = `/${database}`
  if (user) u.username = user
  return u.toString()
}
const masterKey = generateMasterKey()
let keys: { active: { keyId: string; token: string }; revoked: { keyId: string; token: string } }

beforeAll(async () => {
  await admin.query(`CREATE DATABASE ${database}`)
  const s = await createPostgresKeyStore({ connectionString: urlOf(), masterKey })
  const a = await s.create({ principal: 'acme', scopes: ['orders:read'], rateLimits: { rate: { points: 100, windowMs: 60_000 } } })
  const r = await s.create({ principal: 'acme', scopes: ['orders:read'] })
  await s.revoke(r.keyId)
  await s.close()
  keys = { active: { keyId: a.keyId, token: a.token }, revoked: { keyId: r.keyId, token: r.token } }
  await admin.query(`CREATE ROLE ${reader} LOGIN`)
  const owner = new pg.Client({ connectionString: urlOf() })
  await owner.connect()
  await owner.query(`GRANT CONNECT ON DATABASE ${database} TO ${reader}`)
  await owner.query(`GRANT USAGE ON SCHEMA public TO ${reader}`)
  await owner.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${reader}`)
  await owner.end()
})

afterAll(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  await admin.query(`DROP ROLE IF EXISTS ${reader}`)
  await admin.end()
})

async function status(store: EncryptedKeyStore, token: string): Promise<number | string> {
  const { keyId, secret } = parseToken(token)
  try {
    await verify(await signRequest(new Request('https://api.example/orders'), { keyId, secret }), { keys: store })
    return 200
  } catch (e) {
    return (e as SigilError).code
  }
}

function io(url: string) {
  const out: string[] = []
  const err: string[] = []
  const text = (s: string | Uint8Array) => (typeof s === 'string' ? s : new TextDecoder().decode(s))
  return {
    cli: {
      stdout: { write: (s: string | Uint8Array) => void out.push(text(s)) },
      stderr: { write: (s: string | Uint8Array) => void err.push(text(s)) },
      env: { SIGIL_MASTER_KEY: masterKey, SIGIL_DATABASE_URL: url },
      cwd: '/nonexistent-sigil-cwd',
    },
    out: () => out.join(''),
    err: () => err.join(''),
  }
}

/** An instance and the CLI against `url`, which may not write. */
async function readOnlyWorks(url: string, refusal: RegExp) {
  const s = await createPostgresKeyStore({ connectionString: url, masterKey })
  expect(await status(s, keys.active.token)).toBe(200)
  expect(await status(s, keys.revoked.token)).toBe('KEY_REVOKED')
  const err = await s.create({ principal: 'acme' }).then(
    () => undefined,
    (e: unknown) => e as SigilError,
  )
  expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringMatching(refusal) })
  await s.close()

  const list = io(url)
  expect(await run(['keys', 'list', '--json'], list.cli)).toBe(0)
  expect((JSON.parse(list.out()) as Array<{ keyId: string }>).map((k) => k.keyId).sort()).toEqual(
    [keys.active.keyId, keys.revoked.keyId].sort(),
  )
  const show = io(url)
  expect(await run(['keys', 'show', keys.active.keyId, '--json'], show.cli)).toBe(0)
  expect(JSON.parse(show.out())).toMatchObject({ keyId: keys.active.keyId, status: 'active', rateLimits: { rate: { windowMs: 60_000 } } })
  const check = io(url)
  expect(await run(['keys', 'migrate', '--check'], check.cli)).toBe(0)
  expect(check.out()).toContain('Schema: version 6, current.')
  // A write command: a clear error and the store's exit code, not a crash.
  const create = io(url)
  expect(await run(['keys', 'create', '--principal', 'acme'], create.cli)).toBe(4)
  expect(create.err()).toMatch(refusal)
  const revoke = io(url)
  expect(await run(['keys', 'revoke', keys.active.keyId], revoke.cli)).toBe(4)
  expect(revoke.err()).toMatch(refusal)
}

describe('a read-only PostgreSQL key store', () => {
  it('under a role that may only SELECT: instances verify, keys list/show/migrate --check work, writes fail clearly', async () => {
    await readOnlyWorks(urlOf(reader), /role may not change the key store/)
  })

  it('a store that is up to date opens with reads only: no DDL, no lock', async () => {
    const seen: string[] = []
    const c = new pg.Client({ connectionString: urlOf() })
    await c.connect()
    const client: PgQueryClient = {
      query: (text, params) => {
        seen.push(text)
        return c.query(text, params)
      },
    }
    const s = await createPostgresKeyStore({ client, masterKey })
    await s.close()
    await c.end()
    expect(seen.length).toBeGreaterThan(0)
    expect(seen.filter((q) => /\b(CREATE|ALTER|DROP|INSERT|UPDATE|DELETE|BEGIN|pg_advisory)/i.test(q))).toEqual([])
  })

  it('with default_transaction_read_only = on (a hot standby, to its clients): the same; a pending migration is refused naming what to run', async () => {
    await admin.query(`ALTER DATABASE ${database} SET default_transaction_read_only = on`)
    try {
      await readOnlyWorks(urlOf(), /read-only here/)
      // A master key with a version the store has not recorded yet (a rotation under way) opens too:
      // the replica cannot record its check value, and needs not.
      const rotating = await createPostgresKeyStore({ connectionString: urlOf(), masterKey: `${generateMasterKey('v9')},${masterKey}` })
      expect(await status(rotating, keys.active.token)).toBe(200)
      await rotating.close()
      // A release with a migration the database lacks: refused at open with the way out, no crash.
      const owner = new pg.Client({ connectionString: urlOf() })
      await owner.connect()
      await owner.query('SET default_transaction_read_only = off')
      await owner.query('BEGIN READ WRITE')
      await owner.query('DELETE FROM sigil_keys_migrations WHERE version = 6')
      await owner.query('COMMIT')
      await owner.end()
      const err = await createPostgresKeyStore({ connectionString: urlOf(), masterKey }).then(
        () => undefined,
        (e: unknown) => e as SigilError,
      )
      expect(err).toMatchObject({
        code: 'CONFIGURATION_INVALID',
        message: expect.stringContaining('at schema version 5 and this release needs 6'),
      })
      expect(err?.message).toContain('sigil keys migrate')
    } finally {
      await admin.query(`ALTER DATABASE ${database} RESET default_transaction_read_only`)
    }
    // Writable again: the next open applies the missing step.
    const s = await createPostgresKeyStore({ connectionString: urlOf(), masterKey })
    expect(await status(s, keys.active.token)).toBe(200)
    await s.close()
  })

  it('8 instances opening a fresh schema at once: each step applied exactly once, every instance working', async () => {
    const schema = `h_rows_ro_fresh_${suffix}`
    const stores = await Promise.all(
      Array.from({ length: 8 }, () => createPostgresKeyStore({ connectionString: urlOf(), schema, masterKey, poolSize: 2 })),
    )
    try {
      const created = await Promise.all(stores.map((s, i) => s.create({ principal: `p${i}` })))
      for (const s of stores) expect((await s.list()).length).toBe(8)
      for (const c of created) expect(await status(stores[0] as EncryptedKeyStore, c.token)).toBe(200)
      const owner = new pg.Client({ connectionString: urlOf() })
      await owner.connect()
      const { rows } = await owner.query(`SELECT version FROM "${schema}".sigil_keys_migrations ORDER BY version`)
      await owner.end()
      expect(rows.map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6])
    } finally {
      await Promise.all(stores.map((s) => s.close()))
    }
  })
})

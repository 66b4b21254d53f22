// Key records are authenticated at rest (issue 24 item 5): a row or backup edited without the
// master key is refused on every read and on restore; rows written by 0.1.0 (no MAC) keep working.
// SQLite and the real PostgreSQL (own schema per test, prefixed rec_).
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { signRequest } from '@sigil/client'
import { parseToken, SigilError } from '@sigil/core'
import { type EncryptedKeyStore, generateMasterKey } from '@sigil/keys'
import { createPostgresKeyStore } from '@sigil/keys/postgres'
import { createSqliteKeyStore, openSqliteDatabase } from '@sigil/keys/sqlite'
import { verify } from '@sigil/server'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'

const url = process.env.SIGIL_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const dir = mkdtempSync(join(tmpdir(), 'sigil-records-'))
const fixtures = fileURLToPath(new URL('../../packages/keys/src/fixtures/', import.meta.url))
const legacy = JSON.parse(readFileSync(join(fixtures, 'keys-0.1.0.json'), 'utf8'))
const pool = new pg.Pool({ connectionString: url, max: 2 })
const schemas: string[] = []
afterAll(async () => {
  for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
  await pool.end()
})
const newSchema = () => {
  const s = `rec_records_${randomBytes(5).toString('hex')}`
  schemas.push(s)
  return s
}
const file = (name: string) => join(dir, `${randomBytes(4).toString('hex')}-${name}`)

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'resolved'
  } catch (e) {
    return e instanceof SigilError ? e.code : String(e)
  }
}

/** Verify a request signed with `token` against `store`: status, and what onError was told. */
async function verifyWith(store: EncryptedKeyStore, token: string) {
  const { keyId, secret } = parseToken(token)
  const req = await signRequest(new Request('https://api.example/orders'), { keyId, secret })
  const reported: unknown[] = []
  try {
    await verify(req, { keys: store, onError: (e) => reported.push(e) })
    return { status: 200, reported }
  } catch (e) {
    return { status: (e as SigilError).status, code: (e as SigilError).code, reported }
  }
}

const causeText = (e: unknown): string => {
  let out = ''
  for (let c: unknown = e; c; c = (c as { cause?: unknown }).cause) out += ` ${(c as Error).message}`
  return out
}

describe('tampered rows and backups are refused (SQLite)', () => {
  it('a backup edited without the master key (revoked orders:read -> active admin,*) is refused by restore before anything is written, and by every read', async () => {
    const masterKey = generateMasterKey()
    const s = createSqliteKeyStore({ path: file('keys.db'), masterKey })
    const k = await s.create({ principal: 'acme', scopes: ['orders:read'] })
    const other = await s.create({ principal: 'acme', scopes: ['orders:read'] })
    await s.revoke(k.keyId)
    const bak = file('backup.db')
    await s.backup(bak)
    await s.close()

    // The attack of the issue: one UPDATE on a copy of the backup.
    const raw = openSqliteDatabase(bak)
    raw.prepare(`UPDATE sigil_keys SET status = 'active', revoked_at = NULL, scopes = '["admin","*"]' WHERE key_id = ?`).run(k.keyId)
    raw.close()

    const fresh = createSqliteKeyStore({ path: file('fresh.db'), masterKey })
    const err = await fresh.restore(bak).then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    expect(err).toBeInstanceOf(SigilError)
    expect(err?.message).toContain(k.keyId)
    expect(err?.message).toContain('Nothing was written')
    expect(await fresh.list()).toEqual([])
    await fresh.close()

    // Opened directly, the edited row fails closed on every read, naming the key id; the
    // untouched row still works.
    const opened = createSqliteKeyStore({ path: bak, masterKey })
    expect(await codeOf(opened.get(k.keyId))).toBe('CONFIGURATION_INVALID')
    expect(await codeOf(opened.info(k.keyId))).toBe('CONFIGURATION_INVALID')
    expect(await codeOf(opened.list())).toBe('CONFIGURATION_INVALID')
    expect(() => opened.lookup?.(k.keyId)).toThrow(k.keyId)
    expect((await opened.get(other.keyId))?.status).toBe('active')
    // verify(): 503 (fail closed), the operator's onError names the key id, the caller sees no detail, no secret anywhere.
    const v = await verifyWith(opened, k.token)
    expect(v).toMatchObject({ status: 503, code: 'STORE_UNAVAILABLE' })
    const told = v.reported.map(causeText).join(' ')
    expect(told).toContain(k.keyId)
    expect(told).not.toContain(Buffer.from(parseToken(k.token).secret).toString('base64url'))
    expect(told).not.toContain(k.token)
    expect((await verifyWith(opened, other.token)).status).toBe(200)
    // Revoking a row that fails its MAC is allowed (it only takes authority away) and re-MACs it.
    await opened.revoke(k.keyId)
    expect((await opened.get(k.keyId))?.status).toBe('revoked')
    await opened.close()
  })

  it('every legitimate write re-MACs: revoke, scope edits, metadata, expiry, rotate, master-key rotation; a rotated master key leaves every row readable', async () => {
    const v1 = generateMasterKey('v1')
    const path = file('keys.db')
    const s = createSqliteKeyStore({ path, masterKey: v1 })
    const a = await s.create({ principal: 'acme', scopes: ['a'], metadata: { z: 1, a: { c: 2, b: 1 } } })
    const b = await s.create({ principal: 'acme', scopes: ['a'] })
    await s.update(a.keyId, { addScopes: ['b'], mergeMetadata: { y: 'x' } })
    await s.expire(a.keyId, new Date(Date.now() + 3_600_000))
    const r = await s.rotate(a.keyId, { graceMs: 60_000 })
    await s.revoke(b.keyId)
    await s.close()
    const v2 = generateMasterKey('v2')
    const s2 = createSqliteKeyStore({ path, masterKey: `${v2},${v1}` })
    expect((await s2.rotateMasterKey()).failed).toEqual([])
    await s2.close()
    const s3 = createSqliteKeyStore({ path, masterKey: v2 })
    expect((await s3.list()).map((k) => [k.keyId, k.masterKeyVersion]).sort()).toEqual(
      [
        [a.keyId, 'v2'],
        [b.keyId, 'v2'],
        [r.keyId, 'v2'],
      ].sort(),
    )
    expect((await s3.get(a.keyId))?.scopes).toEqual(['a', 'b'])
    await s3.close()
  })

  it('rows written by 0.1.0 (no record MAC) keep working: authenticated once at the first open, refused if a MAC is removed later', async () => {
    const path = file('legacy.db')
    copyFileSync(join(fixtures, 'keys-0.1.0.db'), path)
    const s = createSqliteKeyStore({ path, masterKey: legacy.masterKey, now: () => Date.parse('2026-06-01T00:00:00Z') })
    const active = await s.get(legacy.sqlite.active.keyId)
    expect(active).toMatchObject({ status: 'active', principal: 'acme', metadata: { zeta: 1, alpha: { y: [1, 2], b: 'x' } } })
    expect(Buffer.from(active?.secret ?? []).equals(Buffer.from(parseToken(legacy.sqlite.active.token).secret))).toBe(true)
    expect((await s.get(legacy.sqlite.revoked.keyId))?.status).toBe('revoked')
    expect((await s.get(legacy.sqlite.rotatedAway.keyId))?.status).toBe('expired')
    expect((await s.get(legacy.sqlite.replacement.keyId))?.status).toBe('active')
    await s.update(legacy.sqlite.active.keyId, { addScopes: ['x'] })
    await s.close()
    // A MAC removed after the upgrade does not make the row unchecked again.
    const raw = openSqliteDatabase(path)
    raw.prepare(`UPDATE sigil_keys SET record_mac = NULL, scopes = '["admin"]' WHERE key_id = ?`).run(legacy.sqlite.revoked.keyId)
    // Nor does putting the upgrade marker back: the table is authenticated already.
    raw.prepare(`INSERT INTO sigil_keys_meta (name, value) VALUES ('authenticate_legacy_rows', 'pending')`).run()
    raw.close()
    const again = createSqliteKeyStore({ path, masterKey: legacy.masterKey })
    expect(await codeOf(again.get(legacy.sqlite.revoked.keyId))).toBe('CONFIGURATION_INVALID')
    expect((await again.get(legacy.sqlite.active.keyId))?.scopes).toEqual(['orders:read', 'orders:write', 'x'])
    await again.close()
  })
})

describe('tampered rows are refused (PostgreSQL)', () => {
  it('a row edited without the master key (as a restored, edited pg_dump would hold it) fails closed on get, info, list and verify', async () => {
    const schema = newSchema()
    const masterKey = generateMasterKey()
    const s = await createPostgresKeyStore({ connectionString: url, schema, masterKey })
    const k = await s.create({ principal: 'acme', scopes: ['orders:read'] })
    const other = await s.create({ principal: 'acme', scopes: ['orders:read'] })
    await s.revoke(k.keyId)
    // The backup: a copy of the table, edited, then loaded back as pg_restore would.
    await pool.query(`CREATE TABLE "${schema}".dump AS SELECT * FROM "${schema}".sigil_keys`)
    await pool.query(`UPDATE "${schema}".dump SET status = 'active', revoked_at = NULL, scopes = '["admin","*"]' WHERE key_id = $1`, [
      k.keyId,
    ])
    await pool.query(`DELETE FROM "${schema}".sigil_keys; INSERT INTO "${schema}".sigil_keys SELECT * FROM "${schema}".dump`)
    expect(await codeOf(s.get(k.keyId))).toBe('CONFIGURATION_INVALID')
    expect(await codeOf(s.info(k.keyId))).toBe('CONFIGURATION_INVALID')
    expect(await codeOf(s.list({ principal: 'acme' }))).toBe('CONFIGURATION_INVALID')
    expect(await codeOf(s.update(k.keyId, { addScopes: ['x'] }))).toBe('CONFIGURATION_INVALID')
    expect(await codeOf(s.rotate(k.keyId))).toBe('CONFIGURATION_INVALID')
    const v = await verifyWith(s, k.token)
    expect(v).toMatchObject({ status: 503, code: 'STORE_UNAVAILABLE' })
    expect(v.reported.map(causeText).join(' ')).toContain(k.keyId)
    expect((await verifyWith(s, other.token)).status).toBe(200)
    // Any other authorization field: principal, expiry, grace, limits, metadata.
    for (const [col, value] of [
      ['principal', 'globex'],
      ['expires_at', '2099-01-01'],
      ['limits', '{"rate":{"points":100000,"windowMs":1000}}'],
      ['metadata', '{"tier":"gold"}'],
    ] as const) {
      await pool.query(`UPDATE "${schema}".sigil_keys SET ${col} = $1 WHERE key_id = $2`, [value, other.keyId])
      expect(await codeOf(s.get(other.keyId)), col).toBe('CONFIGURATION_INVALID')
      await pool.query(
        `UPDATE "${schema}".sigil_keys SET ${col} = d.${col} FROM "${schema}".dump d WHERE d.key_id = $1 AND sigil_keys.key_id = $1`,
        [other.keyId],
      )
      expect((await s.get(other.keyId))?.status, col).toBe('active')
    }
    await s.close()
  })

  it('rows written by 0.1.0 (no record MAC) keep working after the upgrade, and are authenticated from then on', async () => {
    const schema = newSchema()
    const sql = readFileSync(join(fixtures, 'keys-0.1.0.pg.sql'), 'utf8').replaceAll('{schema}', `"${schema}"`)
    await pool.query(sql)
    const now = () => Date.parse('2026-06-01T00:00:00Z')
    const [s, s2] = await Promise.all(
      [0, 1].map(() => createPostgresKeyStore({ connectionString: url, schema, masterKey: legacy.masterKey, now })),
    )
    const active = await s?.get(legacy.postgres.active.keyId)
    expect(active).toMatchObject({ status: 'active', metadata: { zeta: 1, alpha: { y: [1, 2], b: 'x' }, 'a-long-key-name': true } })
    expect(Buffer.from(active?.secret ?? []).equals(Buffer.from(parseToken(legacy.postgres.active.token).secret))).toBe(true)
    expect((await s2?.get(legacy.postgres.revoked.keyId))?.status).toBe('revoked')
    expect((await s?.get(legacy.postgres.rotatedAway.keyId))?.status).toBe('expired')
    expect((await s?.rotate(legacy.postgres.replacement.keyId, { graceMs: 0 }))?.keyId).toBeTruthy()
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".sigil_keys WHERE record_mac IS NULL`)
    expect(rows[0].n).toBe(0)
    await pool.query(`UPDATE "${schema}".sigil_keys SET record_mac = NULL, status = 'active' WHERE key_id = $1`, [
      legacy.postgres.revoked.keyId,
    ])
    expect(await codeOf((s as EncryptedKeyStore).get(legacy.postgres.revoked.keyId))).toBe('CONFIGURATION_INVALID')
    await pool.query(`INSERT INTO "${schema}".sigil_keys_meta (name, value) VALUES ('authenticate_legacy_rows', 'pending')`)
    const reopened = await createPostgresKeyStore({ connectionString: url, schema, masterKey: legacy.masterKey, now })
    expect(await codeOf(reopened.get(legacy.postgres.revoked.keyId))).toBe('CONFIGURATION_INVALID')
    await reopened.close()
    await s?.close()
    await s2?.close()
  })
})

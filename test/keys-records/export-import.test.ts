// Moving keys between stores (issue 25 item 4): `sigil keys export` / `sigil keys import`, any
// store to any store, secrets sealed, revoked keys revoked, tokens unchanged; the file is
// authenticated, the import resumable and never overwrites.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CliIo } from '@sigil/cli'
import { run } from '@sigil/cli'
import { signRequest } from '@sigil/client'
import { parseToken, type SigilError } from '@sigil/core'
import { type EncryptedKeyStore, generateMasterKey, importKeys } from '@sigil/keys'
import { createPostgresKeyStore } from '@sigil/keys/postgres'
import { createSqliteKeyStore } from '@sigil/keys/sqlite'
import { verify } from '@sigil/server'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { TEST_DATABASE_URL } from '../helpers/services.js'

const url = TEST_DATABASE_URL
const dir = mkdtempSync(join(tmpdir(), 'sigil-export-'))
const file = (name: string) => join(dir, `${randomBytes(4).toString('hex')}-${name}`)
const pool = new pg.Pool({ connectionString: url, max: 2 })
const schemas: string[] = []
afterAll(async () => {
  for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
  await pool.end()
})
const newSchema = () => {
  const s = `rec_move_${randomBytes(5).toString('hex')}`
  schemas.push(s)
  return s
}

function cli(env: Record<string, string>) {
  const out: string[] = []
  const err: string[] = []
  const io: CliIo = {
    stdout: { write: (s) => out.push(typeof s === 'string' ? s : new TextDecoder().decode(s)) },
    stderr: { write: (s) => err.push(s) },
    env,
    cwd: dir,
  }
  return { io, json: () => JSON.parse(out.join('')), out: () => out.join(''), err: () => err.join('') }
}

/** Status and code of a request signed with `token`, verified by the server against `store`. */
async function outcome(store: EncryptedKeyStore, token: string): Promise<string> {
  const { keyId, secret } = parseToken(token)
  const req = await signRequest(new Request('https://api.example/orders'), { keyId, secret })
  try {
    await verify(req, { keys: store })
    return '200'
  } catch (e) {
    return `${(e as SigilError).status} ${(e as SigilError).code}`
  }
}

async function outcomes(store: EncryptedKeyStore, tokens: string[]): Promise<string[]> {
  const r: string[] = []
  for (const t of tokens) r.push(await outcome(store, t))
  return r
}

/** 12 keys of every kind: revoked, rotated (in grace, with a replacement), expiring, with limits, metadata, a test key. */
async function populate(s: EncryptedKeyStore) {
  const tokens: string[] = []
  const revoked: string[] = []
  for (let i = 0; i < 12; i++) {
    const k = await s.create({
      principal: `p${i % 3}`,
      scopes: ['orders:read', ...(i % 2 ? ['orders:write'] : [])],
      ...(i === 4 ? { expiresAt: new Date(Date.now() + 86_400_000) } : {}),
      ...(i === 5 ? { rateLimits: { rate: { points: 10, windowMs: 1000 } } } : {}),
      ...(i === 6 ? { metadata: { team: 'billing', tier: 2 } } : {}),
      ...(i === 7 ? { test: true } : {}),
    })
    tokens.push(k.token)
  }
  for (const t of tokens.slice(0, 3)) {
    const id = parseToken(t).keyId
    await s.revoke(id)
    revoked.push(id)
  }
  for (const t of tokens.slice(8, 10)) tokens.push((await s.rotate(parseToken(t).keyId, { graceMs: 3_600_000 })).token)
  return { tokens, revoked }
}

const listed = async (s: EncryptedKeyStore) => (await s.list({ limit: 1000 })).map((k) => ({ ...k }))

describe('sigil keys export / import', () => {
  it('SQLite → PostgreSQL → SQLite: every token verifies after each hop as before, revoked keys stay revoked, counts reported', async () => {
    const masterKey = generateMasterKey()
    const p1 = file('a.db')
    const s1 = createSqliteKeyStore({ path: p1, masterKey })
    const { tokens, revoked } = await populate(s1)
    const before = await outcomes(s1, tokens)
    // The source as the server sees it: 3 revoked, the rest (rotated ones in grace) accepted.
    expect(before.filter((o) => o === '200')).toHaveLength(11)
    expect(before.slice(0, 3).every((o) => o.endsWith('KEY_REVOKED'))).toBe(true)
    const keysBefore = await listed(s1)
    await s1.close()

    const f1 = file('a.export')
    const ex = cli({ SIGIL_MASTER_KEY: masterKey })
    expect(await run(['keys', 'export', f1, '--store', p1, '--json'], ex.io)).toBe(0)
    expect(ex.json()).toMatchObject({ keys: 14, revoked: 3, masterKeyVersions: { v1: 14 } })
    expect(statSync(f1).mode & 0o777).toBe(0o600)
    // Sealed: no secret of any token appears in the file.
    const text = readFileSync(f1, 'utf8')
    for (const t of tokens) expect(text).not.toContain(Buffer.from(parseToken(t).secret).toString('base64'))

    const schema = newSchema()
    const pgEnv = { SIGIL_MASTER_KEY: masterKey, SIGIL_DATABASE_URL: url, SIGIL_DATABASE_SCHEMA: schema }
    const im = cli(pgEnv)
    expect(await run(['keys', 'import', f1, '--json'], im.io)).toBe(0)
    expect(im.json()).toMatchObject({ total: 14, imported: 14, present: 0, revoked: 3, resealed: false, dryRun: false })
    const s2 = await createPostgresKeyStore({ connectionString: url, schema, masterKey })
    expect(await outcomes(s2, tokens)).toEqual(before)
    expect(await listed(s2)).toEqual(keysBefore)
    for (const id of revoked) expect((await s2.info(id))?.status).toBe('revoked')
    expect((await s2.events({ limit: 100 })).filter((e) => e.action === 'key.import')).toHaveLength(14)
    await s2.close()

    // Idempotent: the same import again writes nothing.
    const again = cli(pgEnv)
    expect(await run(['keys', 'import', f1, '--json'], again.io)).toBe(0)
    expect(again.json()).toMatchObject({ total: 14, imported: 0, present: 14 })

    const f2 = file('b.export')
    const ex2 = cli(pgEnv)
    expect(await run(['keys', 'export', f2, '--json'], ex2.io)).toBe(0)
    expect(ex2.json()).toMatchObject({ keys: 14, revoked: 3 })
    const p3 = file('c.db')
    const im2 = cli({ SIGIL_MASTER_KEY: masterKey })
    expect(await run(['keys', 'import', f2, '--store', p3, '--json'], im2.io)).toBe(0)
    expect(im2.json()).toMatchObject({ total: 14, imported: 14, present: 0, revoked: 3 })
    const s3 = createSqliteKeyStore({ path: p3, masterKey })
    expect(await outcomes(s3, tokens)).toEqual(before)
    expect(await listed(s3)).toEqual(keysBefore)
    await s3.close()
  }, 60_000)

  it('a tampered, truncated or shortened export is refused before anything is written', async () => {
    const masterKey = generateMasterKey()
    const p1 = file('t.db')
    const s1 = createSqliteKeyStore({ path: p1, masterKey })
    const { revoked } = await populate(s1)
    await s1.close()
    const f = file('t.export')
    expect(await run(['keys', 'export', f, '--store', p1], cli({ SIGIL_MASTER_KEY: masterKey }).io)).toBe(0)
    const lines = readFileSync(f, 'utf8').trimEnd().split('\n')
    const victim = lines.findIndex((l) => l.includes(revoked[0] as string))
    const variants: Record<string, [string[], RegExp]> = {
      // A revoked key made active again by editing its line.
      resurrected: [
        lines.map((l, i) => (i === victim ? l.replace('"status":"revoked"', '"status":"active"') : l)),
        /failed authentication/,
      ],
      scopes: [lines.map((l, i) => (i === victim ? l.replace('"orders:read"', '"admin"') : l)), /failed authentication/],
      // The revoked row dropped and the count fixed: the file MAC still covers it.
      dropped: [
        [...lines.filter((_, i) => i !== victim).slice(0, -1), lines.at(-1)?.replace('"count":14', '"count":13') as string],
        /failed authentication/,
      ],
      truncated: [lines.slice(0, -3), /incomplete/],
      garbage: [['{"format":"something-else"}'], /not a Sigil key export/],
    }
    for (const [name, [variant, reason]] of Object.entries(variants)) {
      expect(variant.join('\n'), name).not.toBe(lines.join('\n'))
      const g = file(`${name}.export`)
      writeFileSync(g, `${variant.join('\n')}\n`)
      const target = file(`${name}.db`)
      const c = cli({ SIGIL_MASTER_KEY: masterKey })
      expect(await run(['keys', 'import', g, '--store', target], c.io), name).toBe(78)
      expect(c.err(), name).toMatch(reason)
      const s = createSqliteKeyStore({ path: target, masterKey })
      expect(await s.list(), name).toHaveLength(0)
      await s.close()
    }
  })

  it('resumes an interrupted import, and refuses (never overwrites) a key present with other content', async () => {
    const masterKey = generateMasterKey()
    const p1 = file('r.db')
    const s1 = createSqliteKeyStore({ path: p1, masterKey })
    const { tokens } = await populate(s1)
    const before = await outcomes(s1, tokens)
    await s1.close()
    const f = file('r.export')
    expect(await run(['keys', 'export', f, '--store', p1], cli({ SIGIL_MASTER_KEY: masterKey }).io)).toBe(0)
    const schema = newSchema()
    const pgEnv = { SIGIL_MASTER_KEY: masterKey, SIGIL_DATABASE_URL: url, SIGIL_DATABASE_SCHEMA: schema }
    expect(await run(['keys', 'import', f], cli(pgEnv).io)).toBe(0)
    // An interruption: half the rows never made it.
    const gone = await pool.query(
      `DELETE FROM "${schema}".sigil_keys WHERE key_id IN (SELECT key_id FROM "${schema}".sigil_keys ORDER BY key_id DESC LIMIT 7) RETURNING key_id`,
    )
    expect(gone.rowCount).toBe(7)
    const resumed = cli(pgEnv)
    expect(await run(['keys', 'import', f, '--json'], resumed.io)).toBe(0)
    expect(resumed.json()).toMatchObject({ total: 14, imported: 7, present: 7 })
    const s2 = await createPostgresKeyStore({ connectionString: url, schema, masterKey })
    expect(await outcomes(s2, tokens)).toEqual(before)

    // A key revoked in the target since: the import (where it is active) is refused, the key stays revoked.
    const active = parseToken(tokens[5] as string).keyId
    await s2.revoke(active)
    const conflict = cli(pgEnv)
    expect(await run(['keys', 'import', f], conflict.io)).toBe(75)
    expect(conflict.err()).toContain(active)
    expect((await s2.info(active))?.status).toBe('revoked')
    await s2.close()
  })

  it('another master key: refused naming the version, or re-sealed with SIGIL_SOURCE_MASTER_KEY (tokens unchanged)', async () => {
    const source = generateMasterKey('v1')
    const p1 = file('m.db')
    const s1 = createSqliteKeyStore({ path: p1, masterKey: source })
    const { tokens } = await populate(s1)
    const before = await outcomes(s1, tokens)
    await s1.close()
    const f = file('m.export')
    expect(await run(['keys', 'export', f, '--store', p1], cli({ SIGIL_MASTER_KEY: source }).io)).toBe(0)

    // Same version label, other key; and a ring without v1 at all.
    for (const target of [generateMasterKey('v1'), generateMasterKey('v7')]) {
      const c = cli({ SIGIL_MASTER_KEY: target })
      const p = file('m2.db')
      expect(await run(['keys', 'import', f, '--store', p], c.io)).toBe(78)
      expect(c.err()).toMatch(/master-key version v1/)
    }
    const target = generateMasterKey('v7')
    const p2 = file('m3.db')
    const c = cli({ SIGIL_MASTER_KEY: target, SIGIL_SOURCE_MASTER_KEY: source })
    expect(await run(['keys', 'import', f, '--store', p2, '--json'], c.io)).toBe(0)
    expect(c.json()).toMatchObject({ imported: 14, resealed: true })
    const s2 = createSqliteKeyStore({ path: p2, masterKey: target })
    expect(await outcomes(s2, tokens)).toEqual(before)
    for (const k of await s2.list()) expect(k.masterKeyVersion).toBe('v7')
    // Re-running with the source key: present with the same content (secrets compared opened).
    expect(await importKeys(s2, readFileSync(f, 'utf8'), { sourceMasterKey: source })).toMatchObject({ imported: 0, present: 14 })
    await s2.close()
  })
})

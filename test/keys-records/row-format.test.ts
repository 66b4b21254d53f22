// Rows from an older release never strand a key (issue 25 item 2). The fixtures are rows written by
// the release before the rate-limit rename — commit 608ae8c (a7f1a11^), whose key limits say
// `windowSeconds` / `periodSeconds` — through that commit's own @sigil/keys, for SQLite and
// PostgreSQL (packages/keys/src/fixtures/make-pre-rename-fixtures.mjs is the recipe). Before this
// change such a key answered 503 STORE_UNAVAILABLE with Retry-After under a rate limiter, and could
// not be rotated.
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { signRequest } from '@sigil/client'
import { parseToken, SigilError } from '@sigil/core'
import { type EncryptedKeyStore, KEY_ROW_FORMAT, migrateKeyRows } from '@sigil/keys'
import { createPostgresKeyStore } from '@sigil/keys/postgres'
import { createSqliteKeyStore, openSqliteDatabase } from '@sigil/keys/sqlite'
import { toProblem, verify } from '@sigil/server'
import { createMemoryRateLimiter } from '@sigil/server/rate-limit'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { TEST_DATABASE_URL } from '../helpers/services.js'

const url = TEST_DATABASE_URL
const dir = mkdtempSync(join(tmpdir(), 'sigil-row-format-'))
const fixtures = fileURLToPath(new URL('../../packages/keys/src/fixtures/', import.meta.url))
const old = JSON.parse(readFileSync(join(fixtures, 'keys-pre-rename.json'), 'utf8'))
const masterKey: string = old.masterKey
const pool = new pg.Pool({ connectionString: url, max: 2 })
const schemas: string[] = []
afterAll(async () => {
  for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
  await pool.end()
})

type Token = { keyId: string; token: string }
type Keys = Record<'rateAndQuota' | 'rateOnly' | 'plain' | 'revoked' | 'rotatedAway' | 'replacement', Token>

/** A store loaded with the fixture rows, as the old release left them, and raw access to its table. */
interface Fixture {
  keys: Keys
  open(): Promise<EncryptedKeyStore>
  /** The `limits` JSON and `format` of a row as stored. */
  raw(keyId: string): Promise<{ limits: unknown; format: number | null }>
  /** Set a row's `limits` column, bypassing the store. */
  setLimits(keyId: string, json: string): Promise<void>
}

async function sqliteFixture(): Promise<Fixture> {
  const path = join(dir, `${randomBytes(4).toString('hex')}.db`)
  copyFileSync(join(fixtures, 'keys-pre-rename.db'), path)
  const withDb = <T>(fn: (db: ReturnType<typeof openSqliteDatabase>) => T): T => {
    const db = openSqliteDatabase(path)
    try {
      return fn(db)
    } finally {
      db.close()
    }
  }
  return {
    keys: old.sqlite,
    open: async () => createSqliteKeyStore({ path, masterKey }),
    raw: async (keyId) =>
      withDb((db) => {
        const hasFormat = db.prepare(`SELECT count(*) AS n FROM pragma_table_info('sigil_keys') WHERE name = 'format'`).get() as {
          n: number
        }
        const r = db.prepare(`SELECT limits${Number(hasFormat.n) ? ', format' : ''} FROM sigil_keys WHERE key_id = ?`).get(keyId) as {
          limits: string | null
          format?: number | null
        }
        return { limits: r.limits === null ? null : JSON.parse(r.limits), format: r.format ?? null }
      }),
    setLimits: async (keyId, json) =>
      withDb((db) => {
        db.prepare('UPDATE sigil_keys SET limits = ? WHERE key_id = ?').run(json, keyId)
      }),
  }
}

async function postgresFixture(): Promise<Fixture> {
  const schema = `h_rows_fmt_${randomBytes(5).toString('hex')}`
  schemas.push(schema)
  await pool.query(readFileSync(join(fixtures, 'keys-pre-rename.pg.sql'), 'utf8').replaceAll('{schema}', `"${schema}"`))
  return {
    keys: old.postgres,
    open: () => createPostgresKeyStore({ connectionString: url, schema, masterKey }),
    raw: async (keyId) => {
      const { rows } = await pool.query(`SELECT to_jsonb(k) AS r FROM "${schema}".sigil_keys k WHERE key_id = $1`, [keyId])
      return { limits: rows[0].r.limits, format: rows[0].r.format ?? null }
    },
    setLimits: async (keyId, json) => {
      await pool.query(`UPDATE "${schema}".sigil_keys SET limits = $1::jsonb WHERE key_id = $2`, [json, keyId])
    },
  }
}

/** Verify a request signed with `token`: status, code, the problem's headers, what onError was told. */
async function verifyWith(store: EncryptedKeyStore, token: string, limiter?: ReturnType<typeof createMemoryRateLimiter>) {
  const { keyId, secret } = parseToken(token)
  const req = await signRequest(new Request('https://api.example/orders'), { keyId, secret })
  const reported: string[] = []
  const onError = (e: unknown) => {
    for (let c: unknown = e; c; c = (c as { cause?: unknown }).cause) reported.push((c as Error).message)
  }
  try {
    const v = await verify(req, { keys: store, onError, ...(limiter ? { rateLimiter: limiter } : {}) })
    return { status: 200, rateLimit: v.rateLimit, reported, headers: {} as Record<string, string> }
  } catch (e) {
    const p = toProblem(e, new Date(), { onError })
    return { status: p.status, code: (e as SigilError).code, reported, headers: p.headers }
  }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'resolved'
  } catch (e) {
    return e instanceof SigilError ? e.code : String(e)
  }
}

describe.each([
  ['SQLite', sqliteFixture],
  ['PostgreSQL', postgresFixture],
])('rows written by 608ae8c (rate limits in seconds) on %s', (_name, make) => {
  it('verify under a rate limiter with the limits converted to ms, rotate, and convert for good on a write or `migrateKeyRows`', async () => {
    const f = await make()
    const k = f.keys
    const s = await f.open()
    // Read in today's shape, without writing anything (a read-only replica serves them too).
    expect((await s.get(k.rateAndQuota.keyId))?.rateLimits).toEqual({
      rate: { points: 100, windowMs: 60_000 },
      quota: { points: 10_000, periodMs: 86_400_000 },
    })
    expect((await f.raw(k.rateAndQuota.keyId)).limits).toEqual({
      rate: { points: 100, windowSeconds: 60 },
      quota: { points: 10000, periodSeconds: 86400 },
    })
    const limiter = createMemoryRateLimiter()
    const first = await verifyWith(s, k.rateAndQuota.token, limiter)
    expect(first).toMatchObject({ status: 200, rateLimit: { limit: 100, windowMs: 60_000 } })
    // The limits are applied, not dropped: 2 per hour.
    expect((await verifyWith(s, k.rateOnly.token, limiter)).status).toBe(200)
    expect((await verifyWith(s, k.rateOnly.token, limiter)).status).toBe(200)
    expect(await verifyWith(s, k.rateOnly.token, limiter)).toMatchObject({ status: 429, code: 'RATE_LIMITED' })
    expect((await verifyWith(s, k.plain.token, limiter)).status).toBe(200)
    expect((await verifyWith(s, k.replacement.token, limiter)).status).toBe(200)
    expect(await verifyWith(s, k.revoked.token, limiter)).toMatchObject({ status: 401, code: 'KEY_REVOKED' })
    expect(await verifyWith(s, k.rotatedAway.token, limiter)).toMatchObject({ status: 401, code: 'KEY_EXPIRED' })

    // Rotation carries the converted limits to the new key and persists the conversion of the old row.
    const r = await s.rotate(k.rateAndQuota.keyId, { graceMs: 60_000 })
    expect(r.key.rateLimits).toEqual({ rate: { points: 100, windowMs: 60_000 }, quota: { points: 10_000, periodMs: 86_400_000 } })
    expect((await verifyWith(s, r.token, limiter)).status).toBe(200)
    expect(await f.raw(k.rateAndQuota.keyId)).toEqual({
      limits: { rate: { points: 100, windowMs: 60_000 }, quota: { points: 10_000, periodMs: 86_400_000 } },
      format: KEY_ROW_FORMAT,
    })

    // The rest: reported by a dry run (nothing written), then converted, each with a new record MAC.
    const dry = await migrateKeyRows(s, { dryRun: true })
    expect(dry.invalid).toEqual([])
    expect(dry.current).toBe(2) // the row the rotation converted, and the key it issued
    expect(Object.fromEntries(dry.converted.map((c) => [c.keyId, c.changes]))).toEqual({
      [k.rateOnly.keyId]: [{ field: 'rateLimits.rate.windowSeconds', from: 3600, to: { 'rateLimits.rate.windowMs': 3_600_000 } }],
      [k.plain.keyId]: [{ field: 'format', from: null, to: KEY_ROW_FORMAT }],
      [k.revoked.keyId]: [{ field: 'rateLimits.quota.periodSeconds', from: 60, to: { 'rateLimits.quota.periodMs': 60_000 } }],
      [k.rotatedAway.keyId]: [{ field: 'rateLimits.rate.windowSeconds', from: 10, to: { 'rateLimits.rate.windowMs': 10_000 } }],
      [k.replacement.keyId]: [{ field: 'rateLimits.rate.windowSeconds', from: 10, to: { 'rateLimits.rate.windowMs': 10_000 } }],
    })
    expect((await f.raw(k.rateOnly.keyId)).limits).toEqual({ rate: { points: 2, windowSeconds: 3600 } })
    const applied = await migrateKeyRows(s)
    expect(applied.converted.map((c) => c.keyId).sort()).toEqual(dry.converted.map((c) => c.keyId).sort())
    expect(await f.raw(k.rateOnly.keyId)).toEqual({ limits: { rate: { points: 2, windowMs: 3_600_000 } }, format: KEY_ROW_FORMAT })
    expect(await f.raw(k.revoked.keyId)).toEqual({ limits: { quota: { points: 5, periodMs: 60_000 } }, format: KEY_ROW_FORMAT })
    expect((await s.events({ limit: 20 })).filter((e) => e.action === 'key.migrate').length).toBe(5)
    expect(await migrateKeyRows(s)).toMatchObject({ current: 7, converted: [], invalid: [] })
    await s.close()

    // Reopened: every converted row authenticates, and nothing changed what a key may do.
    const again = await f.open()
    expect((await again.get(k.revoked.keyId))?.status).toBe('revoked')
    expect((await again.get(k.rotatedAway.keyId))?.status).toBe('expired')
    expect(await verifyWith(again, k.rateOnly.token, createMemoryRateLimiter())).toMatchObject({ status: 200 })
    expect(await verifyWith(again, k.plain.token)).toMatchObject({ status: 200 })
    await again.close()
  })

  it('an edit of an old row (scopes) persists its conversion under a new record MAC', async () => {
    const f = await make()
    const k = f.keys
    const s = await f.open()
    await s.update(k.rateOnly.keyId, { addScopes: ['orders:write'] })
    expect(await f.raw(k.rateOnly.keyId)).toEqual({ limits: { rate: { points: 2, windowMs: 3_600_000 } }, format: KEY_ROW_FORMAT })
    await s.close()
    const again = await f.open()
    expect(await again.get(k.rateOnly.keyId)).toMatchObject({
      scopes: ['orders:read', 'orders:write'],
      rateLimits: { rate: { points: 2, windowMs: 3_600_000 } },
    })
    expect((await verifyWith(again, k.rateOnly.token, createMemoryRateLimiter())).status).toBe(200)
    await again.close()
  })

  it('a tampered old row still fails its record MAC: refused on read, reported by the migration, never converted', async () => {
    const f = await make()
    const k = f.keys
    // The first open authenticates the old rows as written (no MAC before record MACs existed).
    await (await f.open()).close()
    // Then someone without the master key loosens a limit, in the old shape.
    await f.setLimits(k.rateOnly.keyId, '{"rate":{"points":2000000,"windowSeconds":1}}')
    const s = await f.open()
    expect(await codeOf(s.get(k.rateOnly.keyId))).toBe('CONFIGURATION_INVALID')
    const dry = await migrateKeyRows(s, { dryRun: true })
    expect(dry.invalid).toEqual([
      { keyId: k.rateOnly.keyId, field: 'recordMac', reason: expect.stringContaining('failed record authentication') },
    ])
    const applied = await migrateKeyRows(s)
    expect(applied.invalid.map((i) => i.keyId)).toEqual([k.rateOnly.keyId])
    expect((await f.raw(k.rateOnly.keyId)).limits).toEqual({ rate: { points: 2000000, windowSeconds: 1 } })
    expect(await codeOf(s.get(k.rateOnly.keyId))).toBe('CONFIGURATION_INVALID')
    await s.close()
  })

  it('a row no conversion makes usable: 403 KEY_RECORD_INVALID without Retry-After, onError names the key and the field; reported, never guessed at', async () => {
    const f = await make()
    const k = f.keys
    // Written before record MACs, so taken as authentic at the first open, as the release that wrote it took it.
    await f.setLimits(k.rateOnly.keyId, '{"rate":{"points":2,"windowSeconds":"1h"}}')
    const s = await f.open()
    const v = await verifyWith(s, k.rateOnly.token, createMemoryRateLimiter())
    expect(v).toMatchObject({ status: 403, code: 'KEY_RECORD_INVALID' })
    expect(v.headers['retry-after']).toBeUndefined()
    const told = v.reported.join(' ')
    expect(told).toContain(k.rateOnly.keyId)
    expect(told).toContain('rateLimits.rate.windowMs')
    expect(told).not.toContain(Buffer.from(parseToken(k.rateOnly.token).secret).toString('base64url'))
    // Without a rate limiter nothing reads the limits: the key works, as it did.
    expect((await verifyWith(s, k.rateOnly.token)).status).toBe(200)
    // Other keys are untouched by it.
    expect((await verifyWith(s, k.rateAndQuota.token, createMemoryRateLimiter())).status).toBe(200)
    const report = await migrateKeyRows(s)
    expect(report.invalid).toEqual([
      { keyId: k.rateOnly.keyId, field: 'rateLimits.rate.windowMs', reason: 'must be a positive number of milliseconds' },
    ])
    expect((await f.raw(k.rateOnly.keyId)).limits).toEqual({ rate: { points: 2, windowSeconds: '1h' } })
    // Revoking it still works (it only takes authority away).
    expect((await s.revoke(k.rateOnly.keyId)).status).toBe('revoked')
    await s.close()
  })
})

// `sigil keys migrate [--check]`, `keys show` and `keys rotate` over rows written by the release
// before the rate-limit rename (commit 608ae8c, see packages/keys/src/fixtures/make-pre-rename-fixtures.mjs),
// on SQLite and on the real PostgreSQL (issue 25 item 2). Before: rotate exited 78, show printed the
// old JSON without a word, and there was no migrate command.
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openSqliteDatabase } from '@sigil/keys/sqlite'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { TEST_DATABASE_URL } from '../../../test/helpers/services.js'
import type { CliIo } from './io.js'
import { run } from './run.js'

const fixtures = fileURLToPath(new URL('../../keys/src/fixtures/', import.meta.url))
const old = JSON.parse(readFileSync(join(fixtures, 'keys-pre-rename.json'), 'utf8'))
const dir = mkdtempSync(join(tmpdir(), 'sigil-cli-migrate-'))
const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 })
const schemas: string[] = []
afterAll(async () => {
  for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
  await pool.end()
})

function io(env: Record<string, string>) {
  const out: string[] = []
  const err: string[] = []
  const text = (s: string | Uint8Array) => (typeof s === 'string' ? s : new TextDecoder().decode(s))
  const cli: CliIo = {
    stdout: { write: (s) => out.push(text(s)) },
    stderr: { write: (s) => err.push(text(s)) },
    env: { SIGIL_MASTER_KEY: old.masterKey, ...env },
    cwd: dir,
  }
  return { cli, out: () => out.join(''), err: () => err.join(''), json: () => JSON.parse(out.join('')) }
}

interface Target {
  env: Record<string, string>
  keys: Record<string, { keyId: string; token: string }>
  /** The schema version recorded in the store, read without the CLI. */
  schemaVersion(): Promise<number>
  setLimits(keyId: string, json: string): Promise<void>
}

function sqliteTarget(): Target {
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
    env: { SIGIL_STORE: path },
    keys: old.sqlite,
    schemaVersion: async () => withDb((db) => Number(db.prepare('SELECT max(version) AS v FROM sigil_keys_migrations').get()?.v)),
    setLimits: async (keyId, json) => withDb((db) => void db.prepare('UPDATE sigil_keys SET limits = ? WHERE key_id = ?').run(json, keyId)),
  }
}

async function postgresTarget(): Promise<Target> {
  const schema = `h_rows_cli_${randomBytes(5).toString('hex')}`
  schemas.push(schema)
  await pool.query(readFileSync(join(fixtures, 'keys-pre-rename.pg.sql'), 'utf8').replaceAll('{schema}', `"${schema}"`))
  return {
    env: { SIGIL_DATABASE_URL: TEST_DATABASE_URL, SIGIL_DATABASE_SCHEMA: schema },
    keys: old.postgres,
    schemaVersion: async () => Number((await pool.query(`SELECT max(version) AS v FROM "${schema}".sigil_keys_migrations`)).rows[0].v),
    setLimits: async (keyId, json) => {
      await pool.query(`UPDATE "${schema}".sigil_keys SET limits = $1::jsonb WHERE key_id = $2`, [json, keyId])
    },
  }
}

describe.each([
  ['SQLite', async () => sqliteTarget()],
  ['PostgreSQL', postgresTarget],
])('sigil keys migrate on %s rows written by 608ae8c', (_name, make) => {
  it('--check reports the schema steps and every row conversion and writes nothing (exit 1); migrate applies them (exit 0); then --check is clean', async () => {
    const t = await make()
    const check = io(t.env)
    expect(await run(['keys', 'migrate', '--check', '--json'], check.cli)).toBe(1)
    const report = check.json()
    expect(report.schema).toEqual({ version: 2, latest: 6, pending: [3, 4, 5, 6] })
    expect(report.rows.dryRun).toBe(true)
    expect(report.rows.invalid).toEqual([])
    expect(report.rows.converted).toHaveLength(6)
    expect(report.rows.converted).toContainEqual({
      keyId: t.keys.rateAndQuota?.keyId,
      changes: [
        { field: 'rateLimits.rate.windowSeconds', from: 60, to: { 'rateLimits.rate.windowMs': 60_000 } },
        { field: 'rateLimits.quota.periodSeconds', from: 86400, to: { 'rateLimits.quota.periodMs': 86_400_000 } },
      ],
    })
    expect(await t.schemaVersion()).toBe(2)

    const text = io(t.env)
    expect(await run(['keys', 'migrate', '--check'], text.cli)).toBe(1)
    expect(text.out()).toContain('Schema: version 2 → 6 (migrations 3, 4, 5, 6 would run).')
    expect(text.out()).toContain(`${t.keys.rateOnly?.keyId}  rateLimits.rate.windowSeconds 3600 → {"rateLimits.rate.windowMs":3600000}`)
    expect(text.out()).toContain('Nothing was written (--check).')

    const apply = io(t.env)
    expect(await run(['keys', 'migrate', '--json'], apply.cli)).toBe(0)
    expect(apply.json().rows.converted).toHaveLength(6)
    expect(await t.schemaVersion()).toBe(6)
    const clean = io(t.env)
    expect(await run(['keys', 'migrate', '--check', '--json'], clean.cli)).toBe(0)
    expect(clean.json()).toMatchObject({ schema: { version: 6, pending: [] }, rows: { current: 6, converted: [], invalid: [] } })
  })

  it('keys show prints the limits in ms and keys rotate works on an old row (it exited 78); show warns on a row no conversion makes usable, migrate exits 1 naming it', async () => {
    const t = await make()
    await t.setLimits(t.keys.rateOnly?.keyId as string, '{"rate":{"points":2,"windowSeconds":"1h"}}')
    const shown = io(t.env)
    expect(await run(['keys', 'show', t.keys.rateAndQuota?.keyId as string, '--json'], shown.cli)).toBe(0)
    expect(shown.json().rateLimits).toEqual({ rate: { points: 100, windowMs: 60_000 }, quota: { points: 10_000, periodMs: 86_400_000 } })
    expect(shown.err()).toBe('')
    const rotated = io(t.env)
    expect(await run(['keys', 'rotate', t.keys.rateAndQuota?.keyId as string, '--json'], rotated.cli)).toBe(0)
    expect(rotated.json().key.rateLimits).toEqual({
      rate: { points: 100, windowMs: 60_000 },
      quota: { points: 10_000, periodMs: 86_400_000 },
    })

    const bad = io(t.env)
    expect(await run(['keys', 'show', t.keys.rateOnly?.keyId as string], bad.cli)).toBe(0)
    expect(bad.err()).toContain(`warning: key ${t.keys.rateOnly?.keyId}: its stored rateLimits.rate.windowMs must be a positive number`)
    expect(bad.err()).toContain('KEY_RECORD_INVALID')
    const migrated = io(t.env)
    expect(await run(['keys', 'migrate'], migrated.cli)).toBe(1)
    expect(migrated.out()).toContain(`${t.keys.rateOnly?.keyId}  rateLimits.rate.windowMs: must be a positive number of milliseconds`)
  })
})

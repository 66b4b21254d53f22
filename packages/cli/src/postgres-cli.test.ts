// The CLI against the real PostgreSQL (TEST_DATABASE_URL, db `test`), in a schema of its own.
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { TEST_DATABASE_URL } from '../../../test/helpers/services.js'
import type { CliIo } from './io.js'
import { run } from './run.js'

const schema = `sigil_cli_${process.pid}_${Date.now()}`
const url = TEST_DATABASE_URL
afterAll(async () => {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await c.end()
})

function io() {
  const out: string[] = []
  const cli: CliIo = {
    stdout: { write: (s) => out.push(typeof s === 'string' ? s : new TextDecoder().decode(s)) },
    stderr: { write: () => {} },
    env: { SIGIL_MASTER_KEY: 'v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', SIGIL_DATABASE_URL: url, SIGIL_DATABASE_SCHEMA: schema },
    cwd: '/nonexistent-sigil-cwd',
  }
  return { cli, json: () => JSON.parse(out.join('')) }
}

describe('sigil keys on PostgreSQL', () => {
  it('creates, lists, revokes and shows keys in the chosen schema, secrets encrypted', async () => {
    const created = io()
    expect(await run(['keys', 'create', '--principal', 'acme', '--scope', 'orders:read', '--json'], created.cli)).toBe(0)
    const { keyId, token } = created.json() as { keyId: string; token: string }
    expect(token.startsWith(`sigil_sk_${keyId}_`)).toBe(true)
    const listed = io()
    expect(await run(['keys', 'list', '--json'], listed.cli)).toBe(0)
    expect((listed.json() as Array<{ keyId: string }>).map((k) => k.keyId)).toEqual([keyId])
    expect(await run(['keys', 'revoke', keyId], io().cli)).toBe(0)
    const shown = io()
    expect(await run(['keys', 'show', keyId, '--json'], shown.cli)).toBe(0)
    expect(shown.json()).toMatchObject({ keyId, status: 'revoked', principal: 'acme' })
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    try {
      const rows = await c.query(`SELECT * FROM "${schema}".sigil_keys`)
      expect(rows.rowCount).toBe(1)
      const secret = token.slice(`sigil_sk_${keyId}_`.length, token.lastIndexOf('_'))
      expect(JSON.stringify(rows.rows)).not.toContain(secret)
    } finally {
      await c.end()
    }
  })
})

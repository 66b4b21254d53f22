// Issue 24 item 3 across processes: four processes creating and rotating (with a grace) keys of
// one principal at the same instant, on one SQLite file and on one PostgreSQL schema, never leave
// more working keys than the grant's maxKeys — the count is atomic with the write in the store.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateMasterKey } from '@sigil/keys'
import { createPostgresKeyStore } from '@sigil/keys/postgres'
import { createSqliteKeyStore } from '@sigil/keys/sqlite'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'

const child = fileURLToPath(new URL('./count-child.ts', import.meta.url))
const tsx = import.meta.resolve('tsx')
const pgUrl = process.env.SIGIL_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const schema = `authz_count_${randomBytes(5).toString('hex')}`
const dir = mkdtempSync(join(tmpdir(), 'sigil-count-'))
const masterKey = generateMasterKey('v1')

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  const pool = new pg.Pool({ connectionString: pgUrl })
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await pool.end()
})

/** Start the writers, send `go` to all once all are ready, and collect their results. */
async function writers(n: number, job: Record<string, unknown>): Promise<Array<{ accepted: number; refused: Record<string, number> }>> {
  const procs = Array.from({ length: n }, () =>
    spawn(process.execPath, ['--conditions=source', '--import', tsx, child, JSON.stringify(job)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 60_000,
    }),
  )
  const outputs = procs.map((p) => {
    let out = ''
    let err = ''
    p.stderr.on('data', (c) => (err += c))
    const ready = new Promise<void>((resolve) =>
      p.stdout.on('data', (c) => {
        out += c
        if (out.startsWith('ready\n')) resolve()
      }),
    )
    const done = new Promise<{ accepted: number; refused: Record<string, number> }>((resolve, reject) =>
      p.on('close', (code) =>
        code === 0
          ? resolve(JSON.parse(out.trim().split('\n').pop() as string))
          : reject(new Error(`writer exited ${code}: ${err.slice(0, 500)}`)),
      ),
    )
    return { ready, done }
  })
  await Promise.all(outputs.map((o) => o.ready))
  for (const p of procs) p.stdin.end('go\n')
  return Promise.all(outputs.map((o) => o.done))
}

const backends = [
  {
    name: 'SQLite',
    job: { backend: 'sqlite', path: join(dir, 'keys.db') },
    open: () => createSqliteKeyStore({ path: join(dir, 'keys.db'), masterKey }),
  },
  {
    name: 'PostgreSQL',
    job: { backend: 'postgres', url: pgUrl, schema },
    open: () => createPostgresKeyStore({ connectionString: pgUrl, schema, masterKey }),
  },
] as const

describe('the key count across processes', () => {
  for (const b of backends) {
    it(`4 processes x 12 concurrent creates and rotations with maxKeys 2 leave 2 working keys on ${b.name}`, async () => {
      // Open once first so the schema exists before the writers race to migrate it.
      await (await b.open()).close()
      const results = await writers(4, { ...b.job, masterKey, principal: 'racer', maxKeys: 2, writes: 12 })
      const store = await b.open()
      const working = (await store.list({ principal: 'racer', status: 'active' })).length
      await store.close()
      const refused = results.flatMap((r) => Object.keys(r.refused))
      expect(working).toBe(2)
      expect(results.reduce((n, r) => n + r.accepted, 0)).toBeGreaterThanOrEqual(2)
      // Refusals are the count or a lost race on one key, never a store error.
      expect(refused.filter((c) => !['KEY_LIMIT', 'KEY_EXPIRED', 'NONE'].includes(c))).toEqual([])
    }, 90_000)
  }
})

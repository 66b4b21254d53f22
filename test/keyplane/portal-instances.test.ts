// Issue 28 item 10: two `sigil admin serve` processes on one key store, as behind a load balancer
// that alternates requests. A sign-in on A works on B, a CSRF token from B's page is accepted by
// A, a link spent on one is refused by the other, a sign-out on B is refused on A at once, and
// instances racing to spend one link let exactly one sign-in through. The store holds hashes only
// (no session token, no link id). On one SQLite file and on one PostgreSQL schema.
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLinkToken, deriveAdminSecret, readLinkToken } from '@sigil/admin'
import { generateMasterKey } from '@sigil/keys'
import { openSqliteDatabase } from '@sigil/keys/sqlite'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { TEST_DATABASE_URL } from '../helpers/services.js'

const bin = fileURLToPath(new URL('../../packages/cli/src/bin.ts', import.meta.url))
const tsx = import.meta.resolve('tsx')
const schema = `h_sess_${randomBytes(5).toString('hex')}`
const dir = mkdtempSync(join(tmpdir(), 'sigil-portals-'))
const masterKey = generateMasterKey('v1')
const secret = deriveAdminSecret(masterKey)
const children: ChildProcess[] = []

afterAll(async () => {
  for (const c of children) c.kill('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
  const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL })
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await pool.end()
})

/** Start `sigil admin serve --port 0` with `env` and resolve its URL once it listens. */
function serve(env: Record<string, string>): Promise<string> {
  const p = spawn(process.execPath, ['--conditions=source', '--import', tsx, bin, 'admin', 'serve', '--port', '0', '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: dir, SIGIL_MASTER_KEY: masterKey, ...env },
  })
  children.push(p)
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    p.stderr.on('data', (c) => (err += c))
    p.stdout.on('data', (c) => {
      out += c
      // --json prints one JSON document (over several lines) once the portal listens.
      try {
        resolve((JSON.parse(out) as { url: string }).url)
      } catch {
        // not all of it yet
      }
    })
    p.on('exit', (code) => reject(new Error(`admin serve exited ${code}: ${err.slice(0, 500)}`)))
  })
}

const form = (o: Record<string, string>, cookie?: string) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
  body: new URLSearchParams(o).toString(),
  redirect: 'manual' as const,
})
const link = () => createLinkToken(secret, { role: 'operator', name: 'alice' })
const cookieOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0] as string
const csrfOf = (page: string) => /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? ''
const sha = (kind: string, token: string) => createHash('sha256').update(`sigil-${kind}\0`).update(token).digest('base64url')

const backends: Array<{ name: string; env: Record<string, string>; rows: () => Promise<{ sessions: string[][]; spent: string[][] }> }> = [
  {
    name: 'SQLite',
    env: { SIGIL_STORE: join(dir, 'keys.db') },
    rows: async () => {
      const db = openSqliteDatabase(join(dir, 'keys.db'), { readonly: true })
      try {
        const all = (sql: string) =>
          db
            .prepare(sql)
            .all()
            .map((r) => Object.values(r).map(String))
        return { sessions: all('SELECT * FROM sigil_keys_sessions'), spent: all('SELECT * FROM sigil_keys_spent_tokens') }
      } finally {
        db.close()
      }
    },
  },
  {
    name: 'PostgreSQL',
    env: { SIGIL_DATABASE_URL: TEST_DATABASE_URL, SIGIL_DATABASE_SCHEMA: schema },
    rows: async () => {
      const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL })
      try {
        const all = async (sql: string) => (await pool.query(sql)).rows.map((r) => Object.values(r).map(String))
        return {
          sessions: await all(`SELECT * FROM "${schema}".sigil_keys_sessions`),
          spent: await all(`SELECT * FROM "${schema}".sigil_keys_spent_tokens`),
        }
      } finally {
        await pool.end()
      }
    },
  },
]

describe('two portal instances on one key store', () => {
  for (const b of backends) {
    it(`serve one operator with alternating requests on ${b.name}: sign in on A, use on B, sign out on B, refused on A`, async () => {
      // One after the other: the first opens (and migrates) the store.
      const a = await serve(b.env)
      const bb = await serve(b.env)
      const token = link()
      const signIn = await fetch(`${a}/login`, form({ token }))
      expect(signIn.status).toBe(303)
      const cookie = cookieOf(signIn)
      // The link is spent for every instance.
      expect((await fetch(`${bb}/login`, form({ token }))).status).toBe(401)
      // B knows the session, and its page's CSRF token is good on A.
      const onB = await fetch(`${bb}/keys`, { headers: { cookie } })
      expect(onB.status).toBe(200)
      const csrf = csrfOf(await onB.text())
      expect(csrf).not.toBe('')
      const created = await fetch(`${a}/keys`, form({ principal: 'acme', scopes: 'orders:read', _csrf: csrf }, cookie))
      expect(created.status).toBe(201)
      expect(await created.text()).toMatch(/sigil_sk_/)
      const events = await (await fetch(`${bb}/events`, { headers: { cookie } })).text()
      expect(events).toContain('operator:alice')
      // Without the CSRF token B refuses the change.
      expect((await fetch(`${bb}/keys`, form({ principal: 'acme' }, cookie))).status).toBe(403)
      // Sign out on B: A refuses the cookie on its next request.
      expect((await fetch(`${bb}/logout`, form({ _csrf: csrf }, cookie))).status).toBe(303)
      expect((await fetch(`${a}/keys`, { headers: { cookie } })).status).toBe(401)
      expect((await fetch(`${a}/keys`, form({ principal: 'acme', _csrf: csrf }, cookie))).status).toBe(403)
      expect((await fetch(`${bb}/keys`, { headers: { cookie } })).status).toBe(401)

      // Racing: each of 8 links sent to both instances twice at once; exactly one sign-in each.
      const links = Array.from({ length: 8 }, link)
      const results = await Promise.all(
        links.map(async (t) => {
          const answers = await Promise.all([a, bb, a, bb].map((origin) => fetch(`${origin}/login`, form({ token: t }))))
          return answers
        }),
      )
      for (const answers of results) {
        expect(answers.map((r) => r.status).sort()).toEqual([303, 401, 401, 401])
        // The winner's session works on both instances.
        const c = cookieOf(answers.find((r) => r.status === 303) as Response)
        for (const origin of [a, bb]) expect((await fetch(`${origin}/keys`, { headers: { cookie: c } })).status).toBe(200)
      }

      // Hashes only: no session token and no link id in any stored value.
      const { sessions, spent } = await b.rows()
      const session = cookie.split('=')[1] as string
      const jti = readLinkToken(secret, token)?.jti as string
      const stored = JSON.stringify([sessions, spent])
      expect(stored).not.toContain(session)
      expect(stored).not.toContain(jti)
      expect(sessions.length).toBe(links.length) // the signed-out one is deleted
      expect(spent.length).toBe(links.length + 1)
      expect(sessions.map((r) => r[0])).not.toContain(sha('session', session))
      expect(spent.map((r) => r[0])).toContain(sha('once', `link:${jti}`))
    }, 60_000)
  }
})

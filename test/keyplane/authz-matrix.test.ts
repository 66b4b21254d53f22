// Issue 24: one authorization rule for every path that yields a working key. A generated matrix:
// every actor kind × every action × a target of its own principal and of another, each with
// scopes the partner may grant (narrow) and scopes it may not (wide), driven through the real
// surfaces — the dashboard's forms, the signed /api/v1, the `sigil` command, the library — and
// judged by what the store holds afterwards (did a key appear, get replaced, revoked, widened?),
// never by what the surface said. Any 5xx is a wrong cell too. Run on SQLite and PostgreSQL.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Actor, createAdmin, createLinkToken, deriveAdminSecret } from '@sigil/admin'
import { run } from '@sigil/cli'
import { createSignedFetch } from '@sigil/client'
import { type EncryptedKeyStore, generateMasterKey } from '@sigil/keys'
import { createPostgresKeyStore } from '@sigil/keys/postgres'
import { createSqliteKeyStore, type SqliteKeyStore } from '@sigil/keys/sqlite'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const pgUrl = process.env.SIGIL_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const schema = `authz_matrix_${randomBytes(5).toString('hex')}`
const dir = mkdtempSync(join(tmpdir(), 'sigil-authz-'))
const masterKey = generateMasterKey('v1')
const HOUR = 3_600_000

const ACTORS = ['operator', 'partner', 'api-admin', 'api-plain', 'cli', 'library'] as const
const ACTIONS = ['create', 'read', 'list', 'rotate', 'rotate-expiring', 'revoke', 'edit-scopes', 'restore'] as const
type ActorKind = (typeof ACTORS)[number]
type Action = (typeof ACTIONS)[number]
type Target = { own: boolean; wide: boolean }
const TARGETS: Target[] = [
  { own: true, wide: false },
  { own: true, wide: true },
  { own: false, wide: false },
  { own: false, wide: true },
]
const NARROW = ['orders:read']
const WIDE = ['orders:read', 'orders:write', 'admin']
const PARTNER = 'hooli'
const OPS = 'ops'

/** Whose principal is "own": a partner's is its invite's; an API key's is its own; the rest act for the operator. */
const ownPrincipal = (a: ActorKind) => (a === 'partner' ? PARTNER : OPS)
const principalOf = (a: ActorKind, t: Target) => (t.own ? ownPrincipal(a) : a === 'partner' ? 'globex' : 'acme')

/** Where an action exists for an actor: restore and import are the CLI's and the library's (the embedded store). */
const exists = (a: ActorKind, action: Action, backend: string) =>
  action !== 'restore' || ((a === 'cli' || a === 'library') && backend === 'SQLite')

/**
 * The rule, as the issue states it: the operator, an `admin` API key, the CLI and the library
 * hold the operator's authority; a key without `admin` may do nothing on /api/v1; a partner reads,
 * lists and revokes its own principal's keys, and creates, rotates and widens them only within
 * the scopes of its invite. Every allowed rotation keeps the old key's expiry.
 */
function expected(a: ActorKind, action: Action, t: Target): boolean {
  if (a === 'api-plain') return false
  if (a !== 'partner') return true
  if (!t.own) return false
  return action === 'read' || action === 'list' || action === 'revoke' || !t.wide
}

const backends: Array<{ name: string; open: () => Promise<EncryptedKeyStore>; cliEnv: Record<string, string> }> = [
  {
    name: 'SQLite',
    open: async () => createSqliteKeyStore({ path: join(dir, 'keys.db'), masterKey }),
    cliEnv: { SIGIL_STORE: join(dir, 'keys.db') },
  },
  {
    name: 'PostgreSQL',
    open: () => createPostgresKeyStore({ connectionString: pgUrl, schema, masterKey }),
    cliEnv: { SIGIL_DATABASE_URL: pgUrl, SIGIL_DATABASE_SCHEMA: schema },
  },
]

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  const pool = new pg.Pool({ connectionString: pgUrl })
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await pool.end()
})

const sameScopes = (a: readonly string[], b: readonly string[]) => [...a].sort().join(' ') === [...b].sort().join(' ')

for (const b of backends) {
  describe(`authorization matrix on ${b.name}`, () => {
    let store: EncryptedKeyStore
    let server: Server
    let base: string
    let admin: ReturnType<typeof createAdmin>
    const secret = deriveAdminSecret(masterKey)
    let apiAdmin: typeof fetch
    let apiPlain: typeof fetch
    const sessions: Record<'operator' | 'partner', { cookie: string; csrf: string }> = {
      operator: { cookie: '', csrf: '' },
      partner: { cookie: '', csrf: '' },
    }

    beforeAll(async () => {
      store = await b.open()
      admin = createAdmin({ store, adminSecret: secret })
      server = createServer(admin.handler).listen(0, '127.0.0.1')
      await new Promise((r) => server.once('listening', r))
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      apiAdmin = createSignedFetch({ token: (await store.create({ principal: OPS, scopes: ['admin'] })).token })
      apiPlain = createSignedFetch({ token: (await store.create({ principal: OPS, scopes: ['orders:read'] })).token })
      for (const [role, claims] of [
        ['operator', { role: 'operator' }],
        ['partner', { role: 'partner', principal: PARTNER, maxKeys: 1000, allowedScopes: [...NARROW] }],
      ] as const) {
        const token = createLinkToken(secret, claims)
        const res = await fetch(`${base}/login`, form({ token }))
        const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string
        const page = await (await fetch(`${base}/keys`, { headers: { cookie } })).text()
        sessions[role] = { cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? '' }
      }
    })
    afterAll(async () => {
      await new Promise<void>((r) => server.close(() => r()))
      await store.close()
    })

    function form(o: Record<string, string>) {
      return {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(o).toString(),
        redirect: 'manual' as const,
      }
    }
    const dash = async (who: 'operator' | 'partner', path: string, body?: Record<string, string>) => {
      const s = sessions[who]
      const init = body ? form({ ...body, _csrf: s.csrf }) : { redirect: 'manual' as const }
      const res = await fetch(`${base}${path}`, { ...init, headers: { ...(body ? form({}).headers : {}), cookie: s.cookie } })
      return { status: res.status, text: await res.text() }
    }
    const api = async (f: typeof fetch, path: string, method = 'GET', body?: unknown) => {
      const res = await f(`${base}${path}`, {
        method,
        ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
      })
      return { status: res.status, text: await res.text() }
    }
    const cli = async (args: string[]) => {
      let out = ''
      const code = await run([...args, '--json'], {
        stdout: { write: (c: string | Uint8Array) => (out += String(c)) },
        stderr: { write: () => true },
        env: { SIGIL_MASTER_KEY: masterKey, ...b.cliEnv },
        cwd: dir,
      })
      return { status: code === 0 ? 200 : 400 + code, text: out }
    }
    const actorOf = (a: 'operator' | 'partner'): Actor => ({
      kind: 'session',
      claims: a === 'operator' ? { role: 'operator' } : { role: 'partner', principal: PARTNER, maxKeys: 1000, allowedScopes: NARROW },
    })

    /** Do `action` as `a` on `t`; true when the store shows it happened. Also returns the surface's status. */
    async function attempt(a: ActorKind, action: Action, t: Target): Promise<{ happened: boolean; statuses: number[]; note?: string }> {
      const principal = principalOf(a, t)
      const scopes = t.wide ? WIDE : NARROW
      const statuses: number[] = []
      const note = (r: { status: number }) => statuses.push(r.status)
      if (action === 'create') {
        const before = new Set((await store.list({ principal })).map((k) => k.keyId))
        if (a === 'operator' || a === 'partner') note(await dash(a, '/keys', { principal, scopes: scopes.join(' ') }))
        else if (a === 'api-admin' || a === 'api-plain')
          note(await api(a === 'api-admin' ? apiAdmin : apiPlain, '/api/v1/keys', 'POST', { principal, scopes }))
        else if (a === 'cli') note(await cli(['keys', 'create', '--principal', principal, ...scopes.flatMap((s) => ['--scope', s])]))
        else await store.create({ principal, scopes })
        const fresh = (await store.list({ principal })).filter((k) => !before.has(k.keyId) && sameScopes(k.scopes, scopes))
        return { happened: fresh.length > 0, statuses }
      }
      if (action === 'restore') {
        // A backup holding the target key, restored into a fresh store: does the key work there?
        const src = store as SqliteKeyStore
        const k = await src.create({ principal, scopes })
        const file = join(dir, `bak-${randomBytes(4).toString('hex')}.db`)
        await src.backup(file)
        const into = join(dir, `restored-${randomBytes(4).toString('hex')}.db`)
        if (a === 'cli') note(await cli(['keys', 'restore', file, '--store', into]))
        else {
          const fresh = createSqliteKeyStore({ path: into, masterKey })
          await fresh.restore(file)
          await fresh.close()
        }
        const check = createSqliteKeyStore({ path: into, masterKey })
        const got = await check.info(k.keyId)
        await check.close()
        return { happened: got?.status === 'active', statuses }
      }
      // Actions on an existing key of the target principal, made by the library (the operator).
      const expiring = action === 'rotate-expiring'
      const expiresAt = expiring ? new Date(Date.now() + HOUR) : undefined
      const k = await store.create({ principal, scopes: action === 'edit-scopes' ? [] : scopes, ...(expiresAt ? { expiresAt } : {}) })
      const id = k.keyId
      const is = (x: ActorKind) => a === x
      if (action === 'read' || action === 'list') {
        let r: { status: number; text: string }
        if (is('operator') || is('partner'))
          r = await dash(a as 'operator' | 'partner', action === 'read' ? `/keys/${id}` : `/keys?q=${id}`)
        else if (is('api-admin') || is('api-plain'))
          r = await api(is('api-admin') ? apiAdmin : apiPlain, action === 'read' ? `/api/v1/keys/${id}` : `/api/v1/keys?q=${id}`)
        else if (is('cli'))
          r = await cli(action === 'read' ? ['keys', 'show', id] : ['keys', 'list', '--principal', principal, '--limit', '10000'])
        else r = { status: 200, text: JSON.stringify(action === 'read' ? await store.info(id) : await store.list({ principal })) }
        note(r)
        // The dashboard echoes the search term: a listed key is a link to it.
        const shown = is('operator') || is('partner') ? r.text.includes(`href="/keys/${id}"`) || action === 'read' : r.text.includes(id)
        return { happened: r.status < 300 && shown && r.text.includes(principal), statuses }
      }
      if (action === 'rotate' || expiring) {
        if (is('operator') || is('partner')) note(await dash(a as 'operator' | 'partner', `/keys/${id}/rotate`, { graceHours: '0' }))
        else if (is('api-admin') || is('api-plain'))
          note(await api(is('api-admin') ? apiAdmin : apiPlain, `/api/v1/keys/${id}/rotate`, 'POST', { graceMs: 0 }))
        else if (is('cli')) note(await cli(['keys', 'rotate', id, '--grace', '0']))
        else await store.rotate(id, { graceMs: 0 })
        const after = await store.info(id)
        if (!after?.replacedBy) return { happened: false, statuses }
        const next = await store.info(after.replacedBy)
        // A rotation that drops or extends the expiry is a wrong cell whatever the actor (item 4).
        if (expiring && next?.expiresAt?.getTime() !== expiresAt?.getTime())
          return {
            happened: true,
            statuses,
            note: `new key expires ${next?.expiresAt?.toISOString() ?? 'never'}, old ${expiresAt?.toISOString()}`,
          }
        return { happened: true, statuses }
      }
      if (action === 'revoke') {
        if (is('operator') || is('partner')) note(await dash(a as 'operator' | 'partner', `/keys/${id}/revoke`, { confirm: 'yes' }))
        else if (is('api-admin') || is('api-plain'))
          note(await api(is('api-admin') ? apiAdmin : apiPlain, `/api/v1/keys/${id}/revoke`, 'POST'))
        else if (is('cli')) note(await cli(['keys', 'revoke', id]))
        else await store.revoke(id)
        return { happened: (await store.info(id))?.status === 'revoked', statuses }
      }
      // edit-scopes: add the target's scopes to a key that has none. The dashboard has no form for
      // it: its sessions go through the portal service the dashboard and the API share.
      if (is('operator') || is('partner'))
        await admin.service.update(actorOf(a as 'operator' | 'partner'), id, { addScopes: scopes }).then(
          () => note({ status: 200 }),
          (e: { status?: number }) => note({ status: e.status ?? 500 }),
        )
      else if (is('api-admin') || is('api-plain'))
        note(await api(is('api-admin') ? apiAdmin : apiPlain, `/api/v1/keys/${id}`, 'PATCH', { addScopes: scopes }))
      else if (is('cli')) note(await cli(['keys', 'scopes', id, '--add', scopes.join(',')]))
      else await store.update(id, { addScopes: scopes })
      return { happened: sameScopes((await store.info(id))?.scopes ?? [], scopes), statuses }
    }

    it('every actor × action × own/other principal × grantable/wider scopes: allowed or refused as the rule says, never a 5xx', async () => {
      const wrong: string[] = []
      let cells = 0
      for (const a of ACTORS)
        for (const action of ACTIONS)
          for (const t of TARGETS) {
            if (!exists(a, action, b.name)) continue
            cells++
            const name = `${a} × ${action} × ${t.own ? 'own' : 'other'}/${t.wide ? 'wide' : 'narrow'}`
            const want = expected(a, action, t)
            let got: Awaited<ReturnType<typeof attempt>>
            try {
              got = await attempt(a, action, t)
            } catch (e) {
              wrong.push(`${name}: threw ${(e as Error).message}`)
              continue
            }
            if (got.happened !== want)
              wrong.push(`${name}: ${got.happened ? 'allowed' : 'refused'}, should be ${want ? 'allowed' : 'refused'}`)
            else if (got.note) wrong.push(`${name}: ${got.note}`)
            if (got.statuses.some((s) => s >= 500)) wrong.push(`${name}: answered ${got.statuses.join(',')}`)
            // A list that leaves the key out is the refusal (200 with fewer items); elsewhere a refusal is a 4xx.
            if (!want && action !== 'list' && got.statuses.some((s) => s < 300))
              wrong.push(`${name}: refused but answered ${got.statuses.join(',')}`)
          }
      console.log(
        `authorization matrix on ${b.name}: ${cells} cells, ${wrong.length} wrong${wrong.length ? `:\n  ${wrong.join('\n  ')}` : ''}`,
      )
      expect(cells).toBe(b.name === 'SQLite' ? 6 * 7 * 4 + 2 * 4 : 6 * 7 * 4)
      expect(wrong).toEqual([])
    }, 180_000)
  })
}

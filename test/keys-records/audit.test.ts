// One audit log, complete (issue 24 items 7-9): CLI, library, API and dashboard writes all land
// in the key store's own log, each with its actor, in the same transaction as the change — a
// writer SIGKILLed at any moment never leaves a change without its event (or an event without
// its change). SQLite and the real PostgreSQL (own schema per run, prefixed rec_).
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, mkdtempSync, openSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { hostname, tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createAdmin, createSqliteAuditLog, deriveAdminSecret } from '@sigil/admin'
import { type CliIo, run } from '@sigil/cli'
import { createSignedFetch } from '@sigil/client'
import { createCachedKeyStore, type EncryptedKeyStore, generateMasterKey, type KeyEvent } from '@sigil/keys'
import { createPostgresKeyStore } from '@sigil/keys/postgres'
import { createSqliteKeyStore } from '@sigil/keys/sqlite'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'

const url = process.env.SIGIL_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const dir = mkdtempSync(join(tmpdir(), 'sigil-audit-'))
const child = fileURLToPath(new URL('./outbox-child.ts', import.meta.url))
const tsx = import.meta.resolve('tsx')
const schemas: string[] = []
afterAll(async () => {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
  await c.end()
})

type Where = { backend: 'sqlite'; path: string } | { backend: 'postgres'; schema: string }
function location(backend: 'sqlite' | 'postgres'): Where {
  if (backend === 'sqlite') return { backend, path: join(dir, `${randomBytes(5).toString('hex')}.db`) }
  const schema = `rec_audit_${randomBytes(5).toString('hex')}`
  schemas.push(schema)
  return { backend, schema }
}
const open = (w: Where, masterKey: string, actor?: string): Promise<EncryptedKeyStore> | EncryptedKeyStore =>
  w.backend === 'sqlite'
    ? createSqliteKeyStore({ path: w.path, masterKey, ...(actor ? { actor } : {}) })
    : createPostgresKeyStore({ connectionString: url, schema: w.schema, masterKey, ...(actor ? { actor } : {}) })
const cliEnv = (w: Where, masterKey: string): Record<string, string> =>
  w.backend === 'sqlite'
    ? { SIGIL_MASTER_KEY: masterKey, SIGIL_STORE: w.path }
    : { SIGIL_MASTER_KEY: masterKey, SIGIL_DATABASE_URL: url, SIGIL_DATABASE_SCHEMA: w.schema }

async function allEvents(store: EncryptedKeyStore): Promise<KeyEvent[]> {
  const out: KeyEvent[] = []
  for (let before: number | undefined; ; ) {
    const page = await store.events({ limit: 500, ...(before ? { before } : {}) })
    out.push(...page)
    if (page.length < 500) return out
    before = page[page.length - 1]?.id
  }
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`one audit log (${backend})`, () => {
    it('CLI, library, API and dashboard writes all appear in the log the portal shows, each with its actor', async () => {
      const masterKey = generateMasterKey()
      const w = location(backend)
      const store = await open(w, masterKey, 'process:test-setup')
      const admin = createAdmin({ store, adminSecret: deriveAdminSecret(masterKey) })
      const adminKey = await store.create({ principal: 'ops', scopes: ['admin'] })
      const server: Server = createServer(admin.handler).listen(0, '127.0.0.1')
      await new Promise((r) => server.once('listening', r))
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      try {
        // CLI, as a user would run it on the same store.
        const out: string[] = []
        const io: CliIo = {
          stdout: { write: (s) => out.push(typeof s === 'string' ? s : new TextDecoder().decode(s)) },
          stderr: { write: () => {} },
          env: cliEnv(w, masterKey),
          cwd: dir,
        }
        expect(await run(['keys', 'create', '--principal', 'acme', '--scope', 'orders:read', '--json'], io)).toBe(0)
        const cliKey = (JSON.parse(out.join('')) as { keyId: string }).keyId
        expect(await run(['keys', 'scopes', cliKey, '--add', 'orders:write'], io)).toBe(0)
        expect(await run(['keys', 'revoke', cliKey], io)).toBe(0)
        // Library, naming its actor.
        const libKey = (await store.as('process:billing-job').create({ principal: 'acme' })).keyId
        // API (signed with the admin key) and the dashboard's operator (the service both share).
        const api = createSignedFetch({ token: adminKey.token })
        const created = await api(`${base}/api/v1/keys`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ principal: 'globex' }),
        })
        const apiKey = ((await created.json()) as { keyId: string }).keyId
        await admin.service.revoke({ kind: 'session', claims: { role: 'operator', name: 'alice' } }, libKey)

        const res = await api(`${base}/api/v1/events?limit=50`)
        const items = ((await res.json()) as { items: Array<{ actor: string; action: string; keyId?: string }> }).items
        const seen = items.map((e) => [e.action, e.keyId, e.actor])
        const cli = `cli:${userInfo().username}@${hostname()}`
        expect(seen).toEqual(
          expect.arrayContaining([
            ['key.create', cliKey, cli],
            ['key.update', cliKey, cli],
            ['key.revoke', cliKey, cli],
            ['key.create', libKey, 'process:billing-job'],
            ['key.create', apiKey, `key:${adminKey.keyId}`],
            ['key.revoke', libKey, 'operator:alice'],
          ]),
        )
        // Nothing twice: the portal no longer appends its own copy of a key change.
        expect(items.filter((e) => e.keyId === libKey && e.action === 'key.revoke')).toHaveLength(1)
      } finally {
        await new Promise<void>((r) => server.close(() => r()))
        await admin.close()
        await store.close()
      }
    })

    it('a counted write (a partner under maxKeys) commits its event with it; one refused at the limit writes none', async () => {
      const masterKey = generateMasterKey()
      const store = await open(location(backend), masterKey)
      const admin = createAdmin({ store, adminSecret: deriveAdminSecret(masterKey) })
      const partner = {
        kind: 'session',
        claims: { role: 'partner', principal: 'acme', maxKeys: 2, allowedScopes: ['orders:read'] },
      } as const
      try {
        const a = await admin.service.create(partner, { principal: 'acme', scopes: ['orders:read'] })
        const r = await admin.service.rotate(partner, a.keyId, { graceMs: 60_000 })
        // The old key in its grace and the new one: a third is over maxKeys, by create or rotate.
        await expect(admin.service.create(partner, { principal: 'acme', scopes: ['orders:read'] })).rejects.toMatchObject({
          code: 'KEY_LIMIT',
        })
        await expect(admin.service.rotate(partner, r.keyId, {})).rejects.toMatchObject({ code: 'KEY_LIMIT' })
        const seen = (await allEvents(store)).map((e) => [e.action, e.keyId, e.actor])
        expect(seen.sort()).toEqual(
          [
            ['key.create', a.keyId, 'partner:acme'],
            ['key.rotate', a.keyId, 'partner:acme'],
          ].sort(),
        )
        expect((await store.list({ principal: 'acme' })).length).toBe(2)
      } finally {
        await admin.close()
        await store.close()
      }
    })

    it('kill -9 at random moments under concurrent writers: every committed change has exactly its event, no event lacks its change', async () => {
      const masterKey = generateMasterKey()
      const w = location(backend)
      await (await open(w, masterKey)).close() // migrate once before the writers race
      const WRITERS = 4
      const KILLS = 16
      const job = (n: number) =>
        JSON.stringify({
          backend,
          masterKey,
          actor: `cli:writer${n}@test`,
          ...(w.backend === 'sqlite' ? { path: w.path } : { url, schema: w.schema }),
        })
      // Writers are SIGKILLed at random moments; a replacement starts at once (not awaited, so
      // the kills keep coming while it boots). Every writer ever started is killed at the end.
      const ready = new Set<ChildProcess>()
      const all: Array<Promise<void>> = []
      let n = 0
      const spawnWriter = () => {
        const p = spawn(process.execPath, ['--conditions=source', '--import', tsx, child, job(n++)], { stdio: ['ignore', 'pipe', 'pipe'] })
        p.stdout?.once('data', () => ready.add(p))
        all.push(
          new Promise<void>((resolve) =>
            p.once('exit', () => {
              ready.delete(p)
              resolve()
            }),
          ),
        )
        return p
      }
      const started = Array.from({ length: WRITERS }, spawnWriter)
      const kids = [...started]
      await expect.poll(() => ready.size, { timeout: 60_000 }).toBe(WRITERS)
      let kills = 0
      try {
        while (kills < KILLS) {
          await new Promise((r) => setTimeout(r, 150 + Math.random() * 350))
          const victims = [...ready]
          if (victims.length === 0) continue
          ;(victims[Math.floor(Math.random() * victims.length)] as ChildProcess).kill('SIGKILL')
          kills++
          kids.push(spawnWriter())
        }
        await new Promise((r) => setTimeout(r, 500))
      } finally {
        for (const p of kids) p.kill('SIGKILL')
        await Promise.all(all)
      }

      const store = await open(w, masterKey)
      const rows = await store.list()
      const events = await allEvents(store)
      await store.close()
      const byKey = new Map<string, KeyEvent[]>()
      for (const e of events) byKey.set(e.keyId as string, [...(byKey.get(e.keyId as string) ?? []), e])
      const rotatedTo = new Set(events.filter((e) => e.action === 'key.rotate').map((e) => e.detail?.replacedBy as string))
      const missing: string[] = []
      for (const r of rows) {
        const mine = byKey.get(r.keyId) ?? []
        const changes = mine.filter((e) => e.action !== 'key.create').length
        const origins = mine.filter((e) => e.action === 'key.create').length + (rotatedTo.has(r.keyId) ? 1 : 0)
        if (changes !== r.version || origins !== 1)
          missing.push(`${r.keyId}: version ${r.version}, ${changes} change events, ${origins} origins`)
      }
      const ids = new Set(rows.map((r) => r.keyId))
      const orphans = events.filter((e) => !ids.has(e.keyId as string))
      console.log(
        `outbox crash test (${backend}): ${KILLS} kills of ${WRITERS} writers, ${rows.length} keys, ${events.length} events, ${missing.length} changes without their event, ${orphans.length} events without their change`,
      )
      expect(rows.length).toBeGreaterThan(10)
      expect(events.length).toBeGreaterThan(rows.length)
      expect(new Set(events.map((e) => e.actor)).size).toBeGreaterThan(1)
      expect(missing).toEqual([])
      expect(orphans).toEqual([])
    }, 120_000)
  })
}

describe('the audit log through createCachedKeyStore', () => {
  it('passes as(actor) through synchronously: the portal over a cached store records who acted, and the cache drops the key', async () => {
    const masterKey = generateMasterKey()
    const store = createSqliteKeyStore({ path: join(dir, `${randomBytes(4).toString('hex')}.db`), masterKey })
    const cached = createCachedKeyStore(store)
    const admin = createAdmin({ store: cached, adminSecret: deriveAdminSecret(masterKey) })
    const k = await store.create({ principal: 'acme' })
    expect((await cached.get(k.keyId))?.status).toBe('active')
    await admin.service.revoke({ kind: 'session', claims: { role: 'operator', name: 'bob' } }, k.keyId)
    expect((await cached.get(k.keyId))?.status).toBe('revoked')
    const page = await admin.service.events({ kind: 'session', claims: { role: 'operator' } }, { limit: 5 })
    expect(page.items[0]).toMatchObject({ action: 'key.revoke', keyId: k.keyId, actor: 'operator:bob' })
    await store.close()
  })
})

describe('audit.db of the SQLite portal log (before the store kept the log)', () => {
  it('is created 0600 with its -wal and -shm, and a 0644 file left by an older release is tightened', async () => {
    const fresh = join(dir, `${randomBytes(4).toString('hex')}-audit.db`)
    const log = await createSqliteAuditLog(fresh)
    await log.append({ actor: 'operator', action: 'session.login' })
    for (const f of [fresh, `${fresh}-wal`, `${fresh}-shm`]) {
      try {
        expect(statSync(f).mode & 0o777, f).toBe(0o600)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
      }
    }
    await log.close()
    const old = join(dir, `${randomBytes(4).toString('hex')}-audit.db`)
    closeSync(openSync(old, 'w', 0o644))
    writeFileSync(old, '')
    const again = await createSqliteAuditLog(old)
    expect(statSync(old).mode & 0o777).toBe(0o600)
    await again.close()
  })
})

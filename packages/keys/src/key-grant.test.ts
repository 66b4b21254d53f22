import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SigilError } from '@sigil/core'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { createBackedKeyStore } from './backed-key-store.js'
import type { KeyBackend } from './key-backend.js'
import type { KeyGrant } from './key-grant.js'
import type { EncryptedKeyStore } from './key-store.js'
import { generateMasterKey } from './master-key.js'
import { createMemoryBackend, createMemoryKeyStore } from './memory-store.js'
import { createPostgresKeyStore } from './postgres.js'
import { createSqliteKeyStore } from './sqlite.js'

// Issue 24 items 1-4 and 10, on every store: the one rule (key-grant.ts) applied by create,
// rotate, update and revoke, with the key count atomic with the write.

const HOUR = 3_600_000
const pgUrl = process.env.SIGIL_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const schema = `authz_grant_${randomBytes(5).toString('hex')}`
const dir = mkdtempSync(join(tmpdir(), 'sigil-grant-'))
const masterKey = generateMasterKey('v1')
let n = 0

const stores: Array<{ name: string; open: (now: () => number) => Promise<EncryptedKeyStore> }> = [
  { name: 'memory', open: async (now) => createMemoryKeyStore({ now }) },
  { name: 'SQLite', open: async (now) => createSqliteKeyStore({ path: join(dir, `k${n++}.db`), masterKey, now }) },
  {
    name: 'PostgreSQL',
    open: async (now) => createPostgresKeyStore({ connectionString: pgUrl, schema, table: `k${n++}`, masterKey, now }),
  },
]

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  const pool = new pg.Pool({ connectionString: pgUrl })
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await pool.end()
})

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
  } catch (e) {
    return e instanceof SigilError ? e.code : `not a SigilError: ${String(e)}`
  }
  return undefined
}

const partner: KeyGrant = { principal: 'hooli', scopes: ['orders:read'], maxKeys: 1, extendExpiry: false, editLimits: false }

for (const s of stores) {
  describe(`key grants on ${s.name}`, () => {
    let t = Date.parse('2030-01-01T00:00:00Z')
    const now = () => t
    const open = async () => {
      t = Date.parse('2030-01-01T00:00:00Z')
      return s.open(now)
    }

    it('rotate keeps the old key expiry; a later one only for an actor that may extend (item 4)', async () => {
      const store = await open()
      const expiresAt = new Date(t + HOUR)
      const old = await store.create({ principal: 'acme', scopes: ['orders:read'], expiresAt })
      const r = await store.rotate(old.keyId, { graceMs: 0 })
      expect(r.key.expiresAt).toEqual(expiresAt)
      expect((await store.info(r.keyId))?.expiresAt).toEqual(expiresAt)
      // The library (operator authority) may say otherwise, explicitly.
      const never = await store.rotate(r.keyId, { graceMs: 0, expiresAt: null })
      expect(never.key.expiresAt).toBeUndefined()
      // A grant without extendExpiry: no later expiry, and not none where there was one.
      const bounded = await store.create({ principal: 'hooli', scopes: ['orders:read'], expiresAt })
      const grant = { ...partner, maxKeys: 10 }
      expect(await code(store.rotate(bounded.keyId, { graceMs: 0, grant, expiresAt: null }))).toBe('EXPIRY_NOT_ALLOWED')
      expect(await code(store.rotate(bounded.keyId, { graceMs: 0, grant, expiresAt: new Date(t + 2 * HOUR) }))).toBe('EXPIRY_NOT_ALLOWED')
      expect((await store.info(bounded.keyId))?.replacedBy).toBeUndefined()
      const shorter = await store.rotate(bounded.keyId, { graceMs: 0, grant, expiresAt: new Date(t + HOUR / 2) })
      expect(shorter.key.expiresAt).toEqual(new Date(t + HOUR / 2))
      await store.close()
    })

    it('rotate passes the scope check of create: no token for scopes the actor may not grant (item 1)', async () => {
      const store = await open()
      const wide = await store.create({ principal: 'hooli', scopes: ['orders:read', 'orders:write', 'admin'] })
      const grant = { ...partner, maxKeys: 10 }
      expect(await code(store.create({ principal: 'hooli', scopes: ['admin'] }, { grant }))).toBe('SCOPE_NOT_ALLOWED')
      expect(await code(store.rotate(wide.keyId, { grant }))).toBe('SCOPE_NOT_ALLOWED')
      const after = await store.info(wide.keyId)
      expect([after?.status, after?.replacedBy, after?.notAfter]).toEqual(['active', undefined, undefined])
      expect((await store.list({ principal: 'hooli' })).length).toBe(1)
      // Another principal's key is not there at all for this actor.
      const other = await store.create({ principal: 'globex', scopes: ['orders:read'] })
      for (const p of [
        store.rotate(other.keyId, { grant }),
        store.revoke(other.keyId, { grant }),
        store.update(other.keyId, {}, { grant }),
      ])
        expect(await code(p)).toBe('KEY_UNKNOWN')
      expect(await code(store.create({ principal: 'globex' }, { grant }))).toBe('PRINCIPAL_NOT_ALLOWED')
      expect((await store.info(other.keyId))?.status).toBe('active')
      await store.close()
    })

    it('edits add only grantable scopes, shorten but never extend, and leave limits alone', async () => {
      const store = await open()
      const grant = { ...partner, maxKeys: 10 }
      const k = await store.create({ principal: 'hooli', scopes: ['orders:write'], expiresAt: new Date(t + HOUR) })
      expect(await code(store.update(k.keyId, { addScopes: ['admin'] }, { grant }))).toBe('SCOPE_NOT_ALLOWED')
      expect(await code(store.update(k.keyId, { scopes: ['orders:write', 'admin'] }, { grant }))).toBe('SCOPE_NOT_ALLOWED')
      // Keeping a scope it could not grant is no escalation; adding an allowed one is fine.
      expect((await store.update(k.keyId, { scopes: ['orders:write', 'orders:read'] }, { grant })).scopes).toEqual([
        'orders:write',
        'orders:read',
      ])
      expect(await code(store.update(k.keyId, { expiresAt: null }, { grant }))).toBe('EXPIRY_NOT_ALLOWED')
      expect(await code(store.update(k.keyId, { expiresAt: new Date(t + 2 * HOUR) }, { grant }))).toBe('EXPIRY_NOT_ALLOWED')
      expect((await store.update(k.keyId, { expiresAt: new Date(t + HOUR / 2) }, { grant })).expiresAt).toEqual(new Date(t + HOUR / 2))
      expect(await code(store.update(k.keyId, { rateLimits: { rate: { points: 1e6, windowMs: 1000 } } }, { grant }))).toBe(
        'LIMITS_NOT_ALLOWED',
      )
      await store.close()
    })

    it('rotation counts the keys still in grace against maxKeys (item 2)', async () => {
      const store = await open()
      const first = await store.create({ principal: 'hooli', scopes: ['orders:read'] }, { grant: partner })
      expect(await code(store.create({ principal: 'hooli', scopes: ['orders:read'] }, { grant: partner }))).toBe('KEY_LIMIT')
      // With a grace the old key keeps working: two working keys, over a count of 1.
      expect(await code(store.rotate(first.keyId, { graceMs: 720 * HOUR, grant: partner }))).toBe('KEY_LIMIT')
      expect((await store.info(first.keyId))?.replacedBy).toBeUndefined()
      // Without one the old key ends now: still one.
      const second = await store.rotate(first.keyId, { graceMs: 0, grant: partner })
      expect((await store.list({ principal: 'hooli', status: 'active' })).map((k) => k.keyId)).toEqual([second.keyId])
      // maxKeys 2: one rotation with grace fits, a second while the first grace lasts does not.
      const two = { ...partner, maxKeys: 2 }
      const third = await store.rotate(second.keyId, { graceMs: 720 * HOUR, grant: two })
      expect(await code(store.rotate(third.keyId, { graceMs: 720 * HOUR, grant: two }))).toBe('KEY_LIMIT')
      t += 721 * HOUR
      await store.rotate(third.keyId, { graceMs: 720 * HOUR, grant: two })
      expect((await store.list({ principal: 'hooli', status: 'active' })).length).toBe(2)
      await store.close()
    })

    it('30 concurrent creates with maxKeys 1 leave exactly one working key (item 3)', async () => {
      const store = await open()
      // Two stores on the same data where the backend allows it (SQLite file, PostgreSQL schema).
      const settled = await Promise.allSettled(
        Array.from({ length: 30 }, () => store.create({ principal: 'hooli', scopes: ['orders:read'] }, { grant: partner })),
      )
      const ok = settled.filter((r) => r.status === 'fulfilled').length
      const refused = settled.map((r) => (r.status === 'rejected' ? (r.reason as SigilError).code : 'ok'))
      expect(ok).toBe(1)
      expect(refused.filter((c) => c !== 'ok' && c !== 'KEY_LIMIT')).toEqual([])
      expect((await store.list({ principal: 'hooli', status: 'active' })).length).toBe(1)
      // Concurrent rotations with grace and creates: still never more than the count.
      const k = (await store.list({ principal: 'hooli' }))[0]?.keyId as string
      const two = { ...partner, maxKeys: 2 }
      await Promise.allSettled([
        ...Array.from({ length: 10 }, () => store.create({ principal: 'hooli', scopes: ['orders:read'] }, { grant: two })),
        ...Array.from({ length: 10 }, () => store.rotate(k, { graceMs: HOUR, grant: two })),
      ])
      expect((await store.list({ principal: 'hooli', status: 'active' })).length).toBeLessThanOrEqual(2)
      await store.close()
    })

    it('bounds metadata: 5,000 levels deep or 20 KiB is a refusal naming metadata, not a stack overflow (item 10)', async () => {
      const store = await open()
      let deep: Record<string, unknown> = { leaf: 1 }
      for (let i = 0; i < 5000; i++) deep = { a: deep }
      const e = await store.create({ principal: 'acme', metadata: deep }).catch((x) => x)
      expect([e.code, e.message]).toEqual(['CONFIGURATION_INVALID', expect.stringContaining('metadata')])
      const k = await store.create({ principal: 'acme', metadata: { ok: true } })
      expect(await code(store.update(k.keyId, { mergeMetadata: { big: 'x'.repeat(20_000) } }))).toBe('CONFIGURATION_INVALID')
      expect(await code(store.update(k.keyId, { metadata: deep }))).toBe('CONFIGURATION_INVALID')
      expect((await store.info(k.keyId))?.metadata).toEqual({ ok: true })
      await store.close()
    })
  })
}

describe('a backend that cannot count atomically', () => {
  it('refuses a limited write instead of skipping the count (fail closed)', async () => {
    const inner = createMemoryBackend()
    const legacy: KeyBackend = { ...inner, keyLimits: false, insert: (row) => inner.insert(row) }
    const store = createBackedKeyStore(legacy, {})
    expect(await code(store.create({ principal: 'hooli' }, { grant: partner }))).toBe('CONFIGURATION_INVALID')
    expect((await store.list()).length).toBe(0)
    expect((await store.create({ principal: 'hooli' })).key.principal).toBe('hooli')
  })
})

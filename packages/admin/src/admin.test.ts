import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSignedFetch } from '@sigil/client'
import { parseToken } from '@sigil/core'
import { toBase64Url } from '@sigil/core/internal'
import { type EncryptedKeyStore, generateMasterKey } from '@sigil/keys'
import { createPostgresKeyStore } from '@sigil/keys/postgres'
import { createSqliteKeyStore } from '@sigil/keys/sqlite'
import { verify } from '@sigil/server'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_DATABASE_URL } from '../../../test/helpers/services.js'
import { type AuditLog, createPostgresAuditLog, createSqliteAuditLog } from './audit.js'
import { createLinkToken, deriveAdminSecret } from './links.js'
import { createAdmin } from './server.js'

// The secret part of a token (base64url, which may itself contain '_'), to check it is never printed.
const secretOf = (token: string) => toBase64Url(parseToken(token).secret)

const pgUrl = TEST_DATABASE_URL
const schema = `sigil_admin_test_${randomBytes(6).toString('hex')}`
const dir = mkdtempSync(join(tmpdir(), 'sigil-admin-'))
const masterKey = generateMasterKey('v1')

const backends: Array<{ name: string; open: () => Promise<{ store: EncryptedKeyStore; audit: AuditLog }> }> = [
  {
    name: 'SQLite',
    open: async () => ({
      store: await createSqliteKeyStore({ path: join(dir, 'keys.db'), masterKey }),
      audit: await createSqliteAuditLog(join(dir, 'audit.db')),
    }),
  },
  {
    name: 'PostgreSQL',
    open: async () => ({
      store: await createPostgresKeyStore({ connectionString: pgUrl, schema, masterKey }),
      audit: await createPostgresAuditLog({ connectionString: pgUrl, schema }),
    }),
  },
]

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  const pool = new pg.Pool({ connectionString: pgUrl })
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await pool.end()
})

for (const b of backends) {
  describe(`admin API on ${b.name}`, () => {
    let server: Server
    let base: string
    let store: EncryptedKeyStore
    let audit: AuditLog
    let adminToken: string
    let plainToken: string
    beforeAll(async () => {
      ;({ store, audit } = await b.open())
      adminToken = (await store.create({ principal: 'ops', scopes: ['admin'] })).token
      plainToken = (await store.create({ principal: 'acme', scopes: ['orders:read'] })).token
      const admin = createAdmin({ store, audit, adminSecret: deriveAdminSecret(masterKey) })
      server = createServer(admin.handler).listen(0, '127.0.0.1')
      await new Promise((r) => server.once('listening', r))
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    })
    afterAll(async () => {
      await new Promise<void>((r) => server.close(() => r()))
      await store.close()
      await audit.close()
    })
    const call = (token: string) => {
      const f = createSignedFetch({ token })
      return async (path: string, method = 'GET', body?: unknown) => {
        const res = await f(`${base}${path}`, {
          method,
          ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
        })
        return { status: res.status, json: (await res.json()) as Record<string, unknown> & { code?: string } }
      }
    }

    it('answers 401 unsigned, 403 to a key without the admin scope, and serves its OpenAPI document', async () => {
      const unsigned = await fetch(`${base}/api/v1/keys`)
      expect([unsigned.status, ((await unsigned.json()) as { code: string }).code]).toEqual([401, 'SIGNATURE_MISSING'])
      const denied = await call(plainToken)('/api/v1/keys')
      expect([denied.status, denied.json.code]).toEqual([403, 'SCOPE_DENIED'])
      const doc = (await (await fetch(`${base}/api/v1/openapi.json`)).json()) as { openapi: string; paths: Record<string, object> }
      expect(doc.openapi).toBe('3.1.0')
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          '/api/v1/keys',
          '/api/v1/keys/{keyId}',
          '/api/v1/keys/{keyId}/rotate',
          '/api/v1/keys/{keyId}/revoke',
          '/api/v1/keys/{keyId}/usage',
          '/api/v1/events',
        ]),
      )
    })

    it('creates a test key when asked (issue 27): sigil_tk_ token, shown as a test key', async () => {
      const created = await call(adminToken)('/api/v1/keys', 'POST', { principal: 'umbrella', test: true })
      expect(created.status).toBe(201)
      expect(created.json.token).toMatch(/^sigil_tk_/)
      expect(created.json.key).toMatchObject({ test: true })
      expect((await store.get(created.json.keyId as string))?.test).toBe(true)
    })

    it('creates, lists, changes, rotates and revokes keys, and the audit log says who did it', async () => {
      const api = call(adminToken)
      const created = await api('/api/v1/keys', 'POST', { principal: 'globex', scopes: ['orders:read'] })
      expect(created.status).toBe(201)
      const { keyId, token } = created.json as { keyId: string; token: string }
      expect(token).toMatch(/^sigil_sk_/)
      expect(JSON.stringify((await api(`/api/v1/keys/${keyId}`)).json)).not.toContain(secretOf(token))

      const page = await api('/api/v1/keys?principal=globex&limit=1')
      expect((page.json.items as Array<{ keyId: string }>).map((k) => k.keyId)).toEqual([keyId])
      const patched = await api(`/api/v1/keys/${keyId}`, 'PATCH', { scopes: ['orders:read', 'orders:write'] })
      expect(patched.json.scopes).toEqual(['orders:read', 'orders:write'])
      expect((await api(`/api/v1/keys/${keyId}`, 'PATCH', { scopes: ['bad scope!'] })).json.code).toBe('INVALID_REQUEST')
      // Atomic edits: add/remove against the current scopes, merge metadata, compare-and-set on the version.
      const v = patched.json.version as number
      const edited = await api(`/api/v1/keys/${keyId}`, 'PATCH', {
        removeScopes: ['orders:write'],
        mergeMetadata: { tier: 'gold' },
        ifVersion: v,
      })
      expect(edited.json).toMatchObject({ scopes: ['orders:read'], metadata: { tier: 'gold' } })
      const stale = await api(`/api/v1/keys/${keyId}`, 'PATCH', { addScopes: ['x'], ifVersion: v })
      expect([stale.status, stale.json.code]).toEqual([409, 'KEY_CONFLICT'])

      // Renamed fields are refused naming the new one (issue 12 item 10).
      const renamedGrace = await api(`/api/v1/keys/${keyId}/rotate`, 'POST', { graceSeconds: 0 })
      expect([renamedGrace.status, renamedGrace.json.code, renamedGrace.json.title]).toEqual([
        400,
        'INVALID_REQUEST',
        'graceSeconds: `graceSeconds` was renamed `graceMs` (milliseconds)',
      ])
      const renamedLimits = await api(`/api/v1/keys/${keyId}`, 'PATCH', { limits: { rate: { points: 1, windowSeconds: 1 } } })
      expect(renamedLimits.json.title).toBe('limits: `limits` was renamed `rateLimits`')
      // A misspelled field is refused naming the closest one (issue 23 item 9), never ignored.
      const misspelled = await api(`/api/v1/keys/${keyId}/rotate`, 'POST', { gracMs: 0 })
      expect([misspelled.status, misspelled.json.title]).toEqual([400, 'gracMs: unknown option, did you mean `graceMs`?'])
      const limited = await api(`/api/v1/keys/${keyId}`, 'PATCH', { rateLimits: { rate: { points: 5, windowMs: 60_000 } } })
      expect(limited.json).toMatchObject({ rateLimits: { rate: { points: 5, windowMs: 60_000 } } })
      const rotated = await api(`/api/v1/keys/${keyId}/rotate`, 'POST', { graceMs: 0 })
      expect(rotated.status).toBe(201)
      const next = rotated.json as { keyId: string; token: string; previous: { keyId: string } }
      expect(next.previous.keyId).toBe(keyId)

      // A request with the new key verifies against the same store; after revoke it fails.
      const options = { keys: store }
      const signed = async () => {
        const { signRequest } = await import('@sigil/client')
        return verify(await signRequest(new Request('https://api.example.com/v1/x'), { token: next.token }), options)
      }
      await expect(signed()).resolves.toMatchObject({ principal: 'globex' })
      const revoked = await api(`/api/v1/keys/${next.keyId}/revoke`, 'POST')
      expect(revoked.json.status).toBe('revoked')
      await expect(signed()).rejects.toMatchObject({ code: 'KEY_REVOKED' })

      const events = (await api('/api/v1/events?limit=10')).json.items as Array<{ action: string; actor: string; keyId: string }>
      const adminKeyId = token.length && (await api('/api/v1/keys?principal=ops')).json.items
      expect(events.map((e) => e.action).slice(0, 6)).toEqual([
        'key.revoke',
        'key.rotate',
        'key.update',
        'key.update',
        'key.update',
        'key.create',
      ])
      expect(events[0]?.actor).toBe(`key:${(adminKeyId as Array<{ keyId: string }>)[0]?.keyId}`)
      expect((await api('/api/v1/keys/nosuchkey00')).status).toBe(404)
    })

    it('pages through keys with a cursor, filters and search', async () => {
      const api = call(adminToken)
      for (let i = 0; i < 3; i++) await api('/api/v1/keys', 'POST', { principal: 'pager' })
      const first = await api('/api/v1/keys?principal=pager&limit=2')
      expect((first.json.items as unknown[]).length).toBe(2)
      expect(typeof first.json.next).toBe('string')
      const second = await api(`/api/v1/keys?principal=pager&limit=2&after=${first.json.next}`)
      expect((second.json.items as unknown[]).length).toBe(1)
      expect(second.json.next).toBeUndefined()
      const ids = [...(first.json.items as Array<{ keyId: string }>), ...(second.json.items as Array<{ keyId: string }>)].map(
        (k) => k.keyId,
      )
      expect(new Set(ids).size).toBe(3)
      const found = await api(`/api/v1/keys?q=${ids[2]?.slice(0, 10)}`)
      expect((found.json.items as Array<{ keyId: string }>).map((k) => k.keyId)).toContain(ids[2])
    })

    it('reads usage per day (empty without a usage source) and validates ranges', async () => {
      const api = call(adminToken)
      const { keyId } = (await api('/api/v1/keys', 'POST', { principal: 'usage-co' })).json as { keyId: string }
      const u = await api(`/api/v1/keys/${keyId}/usage?from=2026-01-01&to=2026-01-31`)
      expect(u.json).toMatchObject({ keyId, from: '2026-01-01', to: '2026-01-31', days: [], totals: { accepted: 0 } })
      expect((await api(`/api/v1/keys/${keyId}/usage?from=yesterday`)).json.code).toBe('INVALID_REQUEST')
    })
  })
}

describe('dashboard sessions', () => {
  let server: Server
  let base: string
  let clock = Date.now()
  const secret = deriveAdminSecret(masterKey)
  let store: EncryptedKeyStore
  beforeAll(async () => {
    store = await createSqliteKeyStore({ path: join(dir, 'dash.db'), masterKey })
    const admin = createAdmin({ store, adminSecret: secret, now: () => clock })
    server = createServer(admin.handler).listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()))
    await store.close()
  })
  const form = (o: Record<string, string>) => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(o).toString(),
    redirect: 'manual' as const,
  })
  async function signIn(claims: Parameters<typeof createLinkToken>[1]) {
    const token = createLinkToken(secret, claims, { now: () => clock })
    const res = await fetch(`${base}/login`, form({ token }))
    expect(res.status).toBe(303)
    const setCookie = res.headers.get('set-cookie') ?? ''
    const cookie = setCookie.split(';')[0] as string
    const page = await (await fetch(`${base}/keys`, { headers: { cookie } })).text()
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? ''
    return { token, cookie, setCookie, csrf }
  }

  it('signs in once per link with a strict, HttpOnly cookie; a used or forged link fails', async () => {
    const s = await signIn({ role: 'operator' })
    expect(s.setCookie).toMatch(/HttpOnly/)
    expect(s.setCookie).toMatch(/SameSite=Strict/)
    expect((await fetch(`${base}/login`, form({ token: s.token }))).status).toBe(401)
    expect((await fetch(`${base}/login`, form({ token: `${s.token.slice(0, -2)}xx` }))).status).toBe(401)
    const page = await fetch(`${base}/keys`, { headers: { cookie: s.cookie } })
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'")
  })

  it('refuses a change without the CSRF token, and creates with it (token shown once)', async () => {
    const s = await signIn({ role: 'operator' })
    const without = await fetch(`${base}/keys`, { ...form({ principal: 'x' }), headers: { ...form({}).headers, cookie: s.cookie } })
    expect(without.status).toBe(403)
    const ok = await fetch(`${base}/keys`, {
      ...form({ principal: 'initech', scopes: 'a b', _csrf: s.csrf }),
      headers: { ...form({}).headers, cookie: s.cookie },
    })
    expect(ok.status).toBe(201)
    expect(await ok.text()).toMatch(/sigil_sk_/)
  })

  it('creates a test key from the form when its box is ticked (issue 27), and shows it as one', async () => {
    const s = await signIn({ role: 'operator' })
    const newPage = await (await fetch(`${base}/keys/new`, { headers: { cookie: s.cookie } })).text()
    expect(newPage).toContain('name="test"')
    const res = await fetch(`${base}/keys`, {
      ...form({ principal: 'initech', test: 'yes', _csrf: s.csrf }),
      headers: { ...form({}).headers, cookie: s.cookie },
    })
    expect(res.status).toBe(201)
    const page = await res.text()
    expect(page).toMatch(/sigil_tk_/)
    const keyId = /href="\/keys\/([A-Za-z0-9]+)"/.exec(page)?.[1] as string
    expect((await store.get(keyId))?.test).toBe(true)
    expect(await (await fetch(`${base}/keys/${keyId}`, { headers: { cookie: s.cookie } })).text()).toContain('(test key)')
  })

  it('keeps a partner to its own principal, its allowed scopes and its key count', async () => {
    const other = await store.create({ principal: 'someone-else' })
    const s = await signIn({ role: 'partner', principal: 'hooli', maxKeys: 1, allowedScopes: ['orders:read'] })
    const post = (path: string, o: Record<string, string>) =>
      fetch(`${base}${path}`, { ...form({ ...o, _csrf: s.csrf }), headers: { ...form({}).headers, cookie: s.cookie } })
    expect((await fetch(`${base}/keys/${other.keyId}`, { headers: { cookie: s.cookie } })).status).toBe(404)
    expect((await post(`/keys/${other.keyId}/revoke`, { confirm: 'yes' })).status).toBe(404)
    expect((await store.info(other.keyId))?.status).toBe('active')
    expect((await post('/keys', { scopes: 'admin' })).status).toBe(403)
    // Another principal in a forged form field is refused, not quietly turned into a key of its own.
    expect((await post('/keys', { principal: 'someone-else', scopes: 'orders:read' })).status).toBe(403)
    expect((await post('/keys', { scopes: 'orders:read' })).status).toBe(201)
    expect((await store.list({ principal: 'someone-else' })).length).toBe(1)
    expect((await store.list({ principal: 'hooli' })).length).toBe(1)
    expect((await post('/keys', { scopes: 'orders:read' })).status).toBe(409)
    const list = await (await fetch(`${base}/keys`, { headers: { cookie: s.cookie } })).text()
    expect(list).not.toContain(other.keyId)
    expect((await fetch(`${base}/partners/invite`, { headers: { cookie: s.cookie } })).status).toBe(403)
  })

  it('ends a session when it expires', async () => {
    const s = await signIn({ role: 'operator' })
    expect((await fetch(`${base}/keys`, { headers: { cookie: s.cookie } })).status).toBe(200)
    clock += 8 * 3600_000 + 1
    expect((await fetch(`${base}/keys`, { headers: { cookie: s.cookie } })).status).toBe(401)
  })
})

describe('the admin scope is the operator authority (issue 24 item 1)', () => {
  it('an invite cannot allow it, and a partner grant drops it from an invite that does', async () => {
    const secret = deriveAdminSecret(masterKey)
    expect(() => createLinkToken(secret, { role: 'partner', principal: 'acme', maxKeys: 3, allowedScopes: ['admin'] })).toThrow(
      /allowedScopes/,
    )
    // An invite signed before the rule (same format, signed by hand): admin is still not grantable.
    const body = Buffer.from(
      JSON.stringify({
        c: { role: 'partner', principal: 'acme', maxKeys: 3, allowedScopes: ['orders:read', 'admin'] },
        exp: Date.now() + 60_000,
        jti: randomBytes(16).toString('base64url'),
      }),
    ).toString('base64url')
    const { createHmac } = await import('node:crypto')
    const token = `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`
    const store = createSqliteKeyStore({ path: join(dir, 'scope.db'), masterKey })
    const admin = createAdmin({ store, adminSecret: secret })
    const server = createServer(admin.handler).listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const post = (path: string, o: Record<string, string>, cookie = '') =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams(o).toString(),
        redirect: 'manual',
      })
    const cookie = ((await post('/login', { token })).headers.get('set-cookie') ?? '').split(';')[0] as string
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await (await fetch(`${base}/keys`, { headers: { cookie } })).text())?.[1] ?? ''
    expect((await post('/keys', { scopes: 'admin', _csrf: csrf }, cookie)).status).toBe(403)
    expect((await post('/keys', { scopes: 'orders:read', _csrf: csrf }, cookie)).status).toBe(201)
    expect((await store.list({ principal: 'acme' })).map((k) => k.scopes)).toEqual([['orders:read']])
    await new Promise<void>((r) => server.close(() => r()))
    await store.close()
  })
})

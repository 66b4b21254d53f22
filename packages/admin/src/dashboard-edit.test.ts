// The dashboard's edit form, its notices of when a change reaches other instances, and the key
// history (issue 28 items 6-8), over HTTP without a browser (test/browser/portal-keys.test.ts
// drives the same pages in Chromium). The edit goes through the API's schema and the store's one
// authorization rule: a partner's refusals here are the store's codes, not a rule of the page.
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type EncryptedKeyStore, generateMasterKey, KEY_CHANGE_PROPAGATION } from '@sigil/keys'
import { createSqliteKeyStore } from '@sigil/keys/sqlite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLinkToken, deriveAdminSecret, type LinkClaims } from './links.js'
import { esc } from './pages.js'
import { type AdminOptions, createAdmin } from './server.js'
import type { Announce } from './service.js'

const dir = mkdtempSync(join(tmpdir(), 'sigil-dash-edit-'))
const masterKey = generateMasterKey('v1')
const secret = deriveAdminSecret(masterKey)
let store: EncryptedKeyStore

beforeAll(async () => {
  store = await createSqliteKeyStore({ path: join(dir, 'keys.db'), masterKey })
})
afterAll(async () => {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

async function portal(extra: Partial<AdminOptions> = {}) {
  const admin = createAdmin({ store, adminSecret: secret, ...extra })
  const server: Server = createServer(admin.handler).listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const close = () => new Promise<void>((r) => server.close(() => r()))
  async function signIn(claims: LinkClaims) {
    const token = createLinkToken(secret, claims)
    const res = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    })
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string
    const page = await (await fetch(`${base}/keys`, { headers: { cookie } })).text()
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? ''
    const get = (path: string) => fetch(`${base}${path}`, { headers: { cookie }, redirect: 'manual' })
    const post = (path: string, o: Record<string, string>, withCsrf = true) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams({ ...o, ...(withCsrf ? { _csrf: csrf } : {}) }).toString(),
      })
    return { get, post }
  }
  return { signIn, close }
}

/** The edit form as the page renders it for a key: every field with its current value. */
function formOf(page: string): Record<string, string> {
  const form = /<form method="post" action="\/keys\/[A-Za-z0-9]+\/edit">([\s\S]*?)<\/form>/.exec(page)?.[1]
  if (!form) throw new Error('no edit form')
  const out: Record<string, string> = {}
  for (const m of form.matchAll(/<input [^>]*name="([^"]+)"[^>]*?value="([^"]*)"/g)) out[m[1] as string] = m[2] as string
  for (const m of form.matchAll(/<textarea [^>]*name="([^"]+)"[^>]*>([^<]*)<\/textarea>/g)) out[m[1] as string] = m[2] as string
  const unesc = (v: string) => v.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)))
  for (const k of Object.keys(out)) out[k] = unesc(out[k] as string)
  delete out._csrf
  return out
}

describe('editing a key from the dashboard', () => {
  it('an operator changes scopes, expiry, rate limit, quota and metadata; the history says who', async () => {
    const p = await portal()
    try {
      const alice = await p.signIn({ role: 'operator', name: 'alice' })
      const k = await store.create({ principal: 'edit-op', scopes: ['orders:read'] })
      const page = await (await alice.get(`/keys/${k.keyId}`)).text()
      const fields = formOf(page)
      expect(fields).toMatchObject({ scopes: 'orders:read', expiresAt: '', ratePoints: '', metadata: '' })
      const res = await alice.post(`/keys/${k.keyId}/edit`, {
        ...fields,
        scopes: 'orders:read orders:write',
        expiresAt: '2031-02-03T04:05',
        ratePoints: '100',
        rateWindowSeconds: '60',
        quotaPoints: '10000',
        quotaPeriodHours: '24',
        metadata: '{"team": "billing", "tier": 2}',
      })
      expect(res.status).toBe(303)
      expect(res.headers.get('location')).toBe(`/keys/${k.keyId}?done=updated`)
      const after = await store.info(k.keyId)
      expect(after?.scopes).toEqual(['orders:read', 'orders:write'])
      expect(after?.expiresAt?.toISOString()).toBe('2031-02-03T04:05:00.000Z')
      expect(after?.rateLimits).toEqual({ rate: { points: 100, windowMs: 60_000 }, quota: { points: 10_000, periodMs: 86_400_000 } })
      expect(after?.metadata).toEqual({ team: 'billing', tier: 2 })
      // The page after the change: a notice with the propagation bound (no fan-out here), the new
      // values in the form, and the history naming the operator.
      const shown = await (await alice.get(res.headers.get('location') as string)).text()
      expect(shown).toContain(esc(`Changes saved. This portal announces no changes (no fan-out): ${KEY_CHANGE_PROPAGATION}.`))
      expect(formOf(shown)).toMatchObject({
        ratePoints: '100',
        rateWindowSeconds: '60',
        quotaPoints: '10000',
        quotaPeriodHours: '24',
      })
      const changed = /operator:alice<\/td><td>changed ([\w, ]+)</.exec(shown)?.[1]?.split(', ')
      expect(changed?.sort()).toEqual(['expiresAt', 'metadata', 'rateLimits', 'scopes'])
      expect(shown).toMatch(/process:[^<]+<\/td><td>created, scopes orders:read/)
      // Sent back unchanged: nothing is written (the version stays).
      const version = (await store.info(k.keyId))?.version
      const same = await alice.post(`/keys/${k.keyId}/edit`, formOf(shown))
      expect(same.headers.get('location')).toBe(`/keys/${k.keyId}?done=unchanged`)
      expect((await store.info(k.keyId))?.version).toBe(version)
      // Clearing: no expiry, no limits, no metadata.
      const cleared = await alice.post(`/keys/${k.keyId}/edit`, {
        ...formOf(shown),
        expiresAt: '',
        ratePoints: '',
        rateWindowSeconds: '',
        quotaPoints: '',
        quotaPeriodHours: '',
        metadata: '',
      })
      expect(cleared.status).toBe(303)
      const none = await store.info(k.keyId)
      expect([none?.expiresAt, none?.rateLimits, none?.metadata]).toEqual([undefined, undefined, undefined])
    } finally {
      await p.close()
    }
  })

  it('refuses bad input on the page with the field named, and changes nothing', async () => {
    const p = await portal()
    try {
      const op = await p.signIn({ role: 'operator' })
      const k = await store.create({ principal: 'edit-bad', scopes: ['a'] })
      const fields = formOf(await (await op.get(`/keys/${k.keyId}`)).text())
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ metadata: '{"team": ' }, /metadata: not JSON/],
        [{ metadata: '[1, 2]' }, /metadata: a JSON object/],
        [{ ratePoints: '10' }, /Rate limit: give both numbers/],
        [{ quotaPoints: '-1', quotaPeriodHours: '1' }, /Quota requests: a positive number/],
        [{ expiresAt: '2031-02-31T00:00' }, /expiresAt: not a date/],
        [{ scopes: 'a b<script>' }, /scopes/],
      ]
      for (const [change, message] of cases) {
        const res = await op.post(`/keys/${k.keyId}/edit`, { ...fields, ...change })
        expect(res.status).toBe(400)
        const page = await res.text()
        expect(page).toMatch(message)
        expect(page).not.toContain('<script>')
      }
      expect((await store.info(k.keyId))?.version).toBe(k.key.version)
      // A change made meanwhile (another tab, the CLI): the form's version is stale, 409.
      await store.update(k.keyId, { scopes: ['a', 'b'] })
      const stale = await op.post(`/keys/${k.keyId}/edit`, { ...fields, scopes: 'a c' })
      expect(stale.status).toBe(409)
      expect((await store.info(k.keyId))?.scopes).toEqual(['a', 'b'])
      // Without the CSRF token: refused before anything is read.
      const forged = await op.post(`/keys/${k.keyId}/edit`, { ...fields, scopes: 'x' }, false)
      expect(forged.status).toBe(403)
      expect((await store.info(k.keyId))?.scopes).toEqual(['a', 'b'])
    } finally {
      await p.close()
    }
  })

  it("a partner edits within its grant — the store's rule — and sees no limits or metadata fields", async () => {
    const p = await portal()
    try {
      const partner = await p.signIn({
        role: 'partner',
        principal: 'edit-partner',
        maxKeys: 3,
        allowedScopes: ['orders:read', 'orders:write'],
      })
      const k = await store.create({ principal: 'edit-partner', scopes: ['orders:read'], expiresAt: new Date('2031-01-01T00:00:00Z') })
      const other = await store.create({ principal: 'edit-someone-else', scopes: ['orders:read'] })
      const page = await (await partner.get(`/keys/${k.keyId}`)).text()
      expect(page).toContain('you may add: orders:read orders:write')
      expect(page).toContain('set by the operator')
      const fields = formOf(page)
      expect(Object.keys(fields).sort()).toEqual(['expiresAt', 'scopes', 'version'])
      // Refused by the store's grant, shown on the page with its status; nothing changes.
      const refusals: Array<[Record<string, string>, number, RegExp]> = [
        [{ scopes: 'orders:read admin' }, 403, /admin is not a scope this actor may grant/],
        [{ expiresAt: '2032-01-01T00:00' }, 403, /shorten a key.s life, not extend it/],
        [{ expiresAt: '' }, 403, /not extend it/],
        [{ ratePoints: '1000000', rateWindowSeconds: '1' }, 403, /rateLimits: this actor changes scopes and expiry only/],
        [{ metadata: '{"tier": "gold"}' }, 403, /this actor changes scopes and expiry only/],
      ]
      for (const [change, status, message] of refusals) {
        const res = await partner.post(`/keys/${k.keyId}/edit`, { ...fields, ...change })
        expect(res.status).toBe(status)
        expect(await res.text()).toMatch(message)
      }
      const unchanged = await store.info(k.keyId)
      expect([unchanged?.scopes, unchanged?.expiresAt?.toISOString(), unchanged?.rateLimits]).toEqual([
        ['orders:read'],
        '2031-01-01T00:00:00.000Z',
        undefined,
      ])
      // Another principal's key: not found, as on every other path.
      expect((await partner.post(`/keys/${other.keyId}/edit`, { scopes: 'orders:write' })).status).toBe(404)
      expect((await store.info(other.keyId))?.scopes).toEqual(['orders:read'])
      // Within the grant: a scope it may grant, and an earlier expiry.
      const ok = await partner.post(`/keys/${k.keyId}/edit`, {
        ...fields,
        scopes: 'orders:read orders:write',
        expiresAt: '2030-06-01T00:00',
      })
      expect(ok.status).toBe(303)
      const done = await store.info(k.keyId)
      expect([done?.scopes, done?.expiresAt?.toISOString()]).toEqual([['orders:read', 'orders:write'], '2030-06-01T00:00:00.000Z'])
    } finally {
      await p.close()
    }
  })

  it('a rotated key offers no Rotate and no Edit, only an early Revoke, and points to its successor', async () => {
    const p = await portal()
    try {
      const op = await p.signIn({ role: 'operator', name: 'bob' })
      const k = await store.create({ principal: 'edit-rotated' })
      const fresh = await (await op.get(`/keys/${k.keyId}`)).text()
      expect(fresh).toContain('Rotate key')
      expect(fresh).toContain('Save changes')
      const rotated = await op.post(`/keys/${k.keyId}/rotate`, { graceHours: '1' })
      expect(rotated.status).toBe(201)
      const next = (await store.info(k.keyId))?.replacedBy as string
      const page = await (await op.get(`/keys/${k.keyId}`)).text()
      expect(page).not.toContain('Rotate key')
      expect(page).not.toContain('Save changes')
      expect(page).toContain('Revoke key')
      expect(page).toContain(`href="/keys/${next}"`)
      // Posting the forms anyway: the store refuses a second rotation of a superseded key.
      expect((await op.post(`/keys/${k.keyId}/rotate`, { graceHours: '0' })).status).toBe(409)
      // The successor's history says it was created by rotating this key, and by whom.
      const successor = await (await op.get(`/keys/${next}`)).text()
      expect(successor).toMatch(new RegExp(`operator:bob</td><td>created by rotating <a class="mono" href="/keys/${k.keyId}">`))
      expect(successor).toContain('Rotate key')
    } finally {
      await p.close()
    }
  })
})

describe('the portal states when a change reaches other instances (issue 28 item 8)', () => {
  const revokeWith = async (announce: Announce | undefined) => {
    const p = await portal(announce ? { announce } : {})
    try {
      const op = await p.signIn({ role: 'operator' })
      const k = await store.create({ principal: 'propagation' })
      const detail = await (await op.get(`/keys/${k.keyId}`)).text()
      const res = await op.post(`/keys/${k.keyId}/revoke`, { confirm: 'yes' })
      expect(res.status).toBe(303)
      const after = await (await op.get(res.headers.get('location') as string)).text()
      return { detail, after, location: res.headers.get('location') as string, keyId: k.keyId, op }
    } finally {
      await p.close()
    }
  }

  it('without fan-out: the bound the CLI prints, before (revoke form) and after the revocation', async () => {
    const r = await revokeWith(undefined)
    const bound = esc(`This portal announces no changes (no fan-out): ${KEY_CHANGE_PROPAGATION}.`)
    expect(r.detail).toContain(bound)
    expect(r.after).toContain(`Key revoked. ${bound}`)
  })

  it('with fan-out: told at once; a failed announcement states the bound', async () => {
    const told: string[] = []
    const ok = await revokeWith(async (c) => {
      told.push(`${c.type}:${c.keyId}`)
    })
    expect(told).toEqual([`revoked:${ok.keyId}`])
    expect(ok.after).toContain('Key revoked. Other instances were told at once.')
    expect(ok.after).not.toContain(esc(KEY_CHANGE_PROPAGATION))
    const failed = await revokeWith(async () => {
      throw new Error('redis down')
    })
    expect(failed.location).toContain('told=no')
    expect(failed.after).toContain(esc(`Other instances were not told (the announcement failed): ${KEY_CHANGE_PROPAGATION}.`))
  })

  it('a link with ?done=revoked on a live key announces nothing', async () => {
    const p = await portal()
    try {
      const op = await p.signIn({ role: 'operator' })
      const k = await store.create({ principal: 'propagation' })
      const page = await (await op.get(`/keys/${k.keyId}?done=revoked`)).text()
      expect(page).not.toContain('Key revoked')
    } finally {
      await p.close()
    }
  })
})

describe('usage chart scale', () => {
  it('ticks start at 0, step by 1, 2 or 5 × 10^k and reach the largest day', async () => {
    const { axisTicks, shortCount } = await import('./pages.js')
    expect(axisTicks(0)).toEqual([0, 1])
    expect(axisTicks(5)).toEqual([0, 1, 2, 3, 4, 5])
    expect(axisTicks(7)).toEqual([0, 2, 4, 6, 8])
    expect(axisTicks(4321)).toEqual([0, 1000, 2000, 3000, 4000, 5000])
    for (const max of [1, 3, 9, 11, 99, 101, 12_345, 999_999]) {
      const t = axisTicks(max)
      expect(t[t.length - 1]).toBeGreaterThanOrEqual(max)
      expect(t.length).toBeLessThanOrEqual(11)
    }
    expect([shortCount(9999), shortCount(12_345), shortCount(123_456), shortCount(1_234_567)]).toEqual(['9999', '12.3k', '123k', '1.2M'])
  })
})
